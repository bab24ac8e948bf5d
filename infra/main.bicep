// LabManager on Azure: a Flex Consumption Function App (.NET 10 isolated) with its storage (task hub, identity-based),
// PostgreSQL Flexible Server, Azure Cache for Redis, Azure SignalR Service (Serverless), Key Vault for the secrets,
// and Application Insights on Log Analytics. `azd up` deploys it with src/LabManager.Functions.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; prefixes every resource.')
param environmentName string

@minLength(1)
@description('Azure region of every resource.')
param location string

@description('Vultr API key (stored in Key Vault).')
@secure()
param vultrApiKey string

@description('HS256 signing secret for API tokens, at least 32 bytes (stored in Key Vault).')
@secure()
param jwtSigningKey string

@description('Secret of the keys lab VMs phone home with, at least 32 bytes, not the signing key (stored in Key Vault).')
@secure()
param phoneHomeKey string

@description('AI tutor API key (stored in Key Vault), for tutorProvider anthropic or openai.')
@secure()
param tutorApiKey string = ''

@description('AI tutor: anthropic or openai (an OpenAI-compatible endpoint) with tutorApiKey; azureopenai: an Azure OpenAI account and deployment made here, reached with the Function App\'s identity; none. Empty: anthropic with a tutorApiKey, otherwise none.')
@allowed(['', 'none', 'anthropic', 'openai', 'azureopenai'])
param tutorProvider string = ''

@description('AI tutor endpoint for anthropic or openai (e.g. https://api.cerebras.ai/v1); empty for the provider\'s own.')
param tutorEndpoint string = ''

@description('AI tutor model: the model name (anthropic, openai), or the model deployed (azureopenai).')
param tutorModel string = ''

@description('azureopenai: the model version deployed, and its capacity in thousands of tokens per minute.')
param tutorModelVersion string = '2024-07-18'
param tutorCapacity int = 10

@description('PostgreSQL administrator login.')
param postgresAdminLogin string = 'labmanager'

@description('PostgreSQL administrator password.')
@secure()
param postgresAdminPassword string

@description('PostgreSQL Flexible Server SKU (Burstable B1ms is the smallest).')
param postgresSku string = 'Standard_B1ms'

@description('Azure Cache for Redis SKU name and capacity.')
@allowed(['Basic', 'Standard', 'Premium'])
param redisSkuName string = 'Basic'
param redisCapacity int = 0

@description('Azure SignalR Service SKU.')
@allowed(['Free_F1', 'Standard_S1'])
param signalRSku string = 'Free_F1'

@description('Most Function App instances Flex Consumption may scale to.')
param maximumInstanceCount int = 40

@description('Quotas: active labs per user and in total.')
param maxContainersPerUser int = 5
param maxGlobalInstances int = 100

@description('Reconciliation schedule (NCRONTAB, six fields).')
param sweepSchedule string = '0 */5 * * * *'

@description('Origins of the platform\'s own frontend allowed to call the API from a browser (CORS, no credentials), e.g. https://academy.example.com.')
param allowedOrigins array = []

var tags = { 'azd-env-name': environmentName }
var token = toLower(uniqueString(subscription().id, environmentName, location))
var tutor = empty(tutorProvider) ? (empty(tutorApiKey) ? 'none' : 'anthropic') : tutorProvider
var azureTutor = tutor == 'azureopenai'
var azureTutorModel = empty(tutorModel) ? 'gpt-4o-mini' : tutorModel
// The account's subdomain names its endpoint, so the Function App's settings need not wait for the account.
var openAiSubdomain = 'oai-${token}'

resource group 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: group
  params: { location: location, tags: tags, token: token }
}

module data 'app/data.bicep' = {
  name: 'data'
  scope: group
  params: {
    location: location
    tags: tags
    token: token
    postgresAdminLogin: postgresAdminLogin
    postgresAdminPassword: postgresAdminPassword
    postgresSku: postgresSku
    redisSkuName: redisSkuName
    redisCapacity: redisCapacity
    signalRSku: signalRSku
  }
}

module vault 'app/keyvault.bicep' = {
  name: 'keyvault'
  scope: group
  params: {
    location: location
    tags: tags
    token: token
    vultrApiKey: vultrApiKey
    jwtSigningKey: jwtSigningKey
    phoneHomeKey: phoneHomeKey
    tutorApiKey: tutorApiKey
    postgresServerName: data.outputs.postgresServerName
    postgresAdminLogin: postgresAdminLogin
    postgresAdminPassword: postgresAdminPassword
    redisName: data.outputs.redisName
    signalRName: data.outputs.signalRName
  }
}

module function 'app/function.bicep' = {
  name: 'function'
  scope: group
  params: {
    location: location
    tags: tags
    token: token
    maximumInstanceCount: maximumInstanceCount
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    keyVaultName: vault.outputs.name
    secretUris: vault.outputs.secretUris
    maxContainersPerUser: maxContainersPerUser
    maxGlobalInstances: maxGlobalInstances
    sweepSchedule: sweepSchedule
    allowedOrigins: allowedOrigins
    tutorProvider: tutor
    tutorEndpoint: azureTutor ? 'https://${openAiSubdomain}.openai.azure.com/' : tutorEndpoint
    tutorModel: azureTutor ? azureTutorModel : tutorModel
    tutorDeployment: azureTutor ? 'tutor' : ''
    // With azureopenai and no key, the identity is used: the vault's placeholder for a missing key must not be sent as one.
    tutorKeyed: !empty(tutorApiKey)
  }
}

module openAi 'app/openai.bicep' = if (azureTutor) {
  name: 'openai'
  scope: group
  params: {
    location: location
    tags: tags
    subdomain: openAiSubdomain
    deployment: 'tutor'
    model: azureTutorModel
    modelVersion: tutorModelVersion
    capacity: tutorCapacity
    principalId: function.outputs.principalId
  }
}

output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = group.name
output API_URL string = function.outputs.apiUrl
