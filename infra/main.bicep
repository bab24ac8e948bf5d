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

@description('AI tutor API key (stored in Key Vault); empty disables the tutor.')
@secure()
param tutorApiKey string = ''

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
  }
}

output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = group.name
output API_URL string = function.outputs.apiUrl
