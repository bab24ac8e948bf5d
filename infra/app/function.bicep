// The Flex Consumption Function App (.NET 10 isolated) with a system-assigned identity, its storage account (task hub and
// deployment package, identity-based access, no account keys), and the roles it needs on the storage and the Key Vault.
param location string
param tags object
param token string
param maximumInstanceCount int
param appInsightsConnectionString string
param keyVaultName string
param secretUris object
param maxContainersPerUser int
param maxGlobalInstances int
param sweepSchedule string
param allowedOrigins array
@description('Tutor:Provider (none, anthropic, openai, azureopenai) and its settings.')
param tutorProvider string
param tutorEndpoint string
param tutorModel string
param tutorDeployment string
@description('Whether a tutor key was given (the vault holds a placeholder otherwise).')
param tutorKeyed bool

var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: take('stlab${token}', 24)
  location: location
  tags: tags
  sku: { name: 'Standard_LRS' }
  kind: 'StorageV2'
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
  }
}

resource blobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource deployments 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobs
  name: 'deployments'
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-${token}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { name: 'FC1', tier: 'FlexConsumption' }
  properties: { reserved: true }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: 'func-${token}'
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: { type: 'SystemAssigned' }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: 'SystemAssigned'
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}deployments'
          authentication: { type: 'SystemAssignedIdentity' }
        }
      }
      scaleAndConcurrency: { maximumInstanceCount: maximumInstanceCount, instanceMemoryMB: 2048 }
      runtime: { name: 'dotnet-isolated', version: '10.0' }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      // On Functions, CORS is the platform's (the Server's is Api:AllowedOrigins): bearer tokens, no cookies.
      cors: { allowedOrigins: allowedOrigins, supportCredentials: false }
      appSettings: [
        { name: 'AzureWebJobsStorage__accountName', value: storage.name }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsightsConnectionString }
        { name: 'DURABLE_TASK_HUB', value: 'labmanager' }
        { name: 'SWEEP_SCHEDULE', value: sweepSchedule }
        { name: 'ConnectionStrings__Postgres', value: '@Microsoft.KeyVault(SecretUri=${secretUris.postgres})' }
        { name: 'ConnectionStrings__Redis', value: '@Microsoft.KeyVault(SecretUri=${secretUris.redis})' }
        { name: 'ConnectionStrings__AzureSignalR', value: '@Microsoft.KeyVault(SecretUri=${secretUris.signalR})' }
        { name: 'Catalog__File', value: 'catalog/labs.json' }
        { name: 'Vultr__BaseUrl', value: 'https://api.vultr.com/v2' }
        { name: 'Vultr__ApiKey', value: '@Microsoft.KeyVault(SecretUri=${secretUris.vultrApiKey})' }
        // Every instance shares the outbound IP's Vultr budget: with Redis down, each keeps to its share of it.
        { name: 'Vultr__Replicas', value: string(maximumInstanceCount) }
        { name: 'Auth__Issuer', value: 'labmanager' }
        { name: 'Auth__Audience', value: 'labmanager-api' }
        { name: 'Auth__SigningKey', value: '@Microsoft.KeyVault(SecretUri=${secretUris.jwtSigningKey})' }
        { name: 'LabSessions__PhoneHomeKey', value: '@Microsoft.KeyVault(SecretUri=${secretUris.phoneHomeKey})' }
        { name: 'Auth__DevTokens', value: 'false' }
        { name: 'Api__MaxContainersPerUser', value: string(maxContainersPerUser) }
        { name: 'Api__MaxGlobalInstances', value: string(maxGlobalInstances) }
        { name: 'Api__MaxStartsPerWindow', value: '10' }
        { name: 'LabSessions__VmTag', value: 'labmanager' }
        { name: 'LabSessions__MaxLifetime', value: '04:00:00' }
        { name: 'Tutor__Provider', value: tutorProvider }
        { name: 'Tutor__Endpoint', value: tutorEndpoint }
        { name: 'Tutor__Model', value: tutorModel }
        { name: 'Tutor__Deployment', value: tutorDeployment }
        { name: 'Tutor__ApiKey', value: tutorKeyed ? '@Microsoft.KeyVault(SecretUri=${secretUris.tutorApiKey})' : '' }
      ]
    }
  }
}

resource storageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in [roles.storageBlobDataOwner, roles.storageQueueDataContributor, roles.storageTableDataContributor]: {
  name: guid(storage.id, app.id, role)
  scope: storage
  properties: {
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
  }
}]

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource secretsRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, app.id, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
  }
}

output apiUrl string = 'https://${app.properties.defaultHostName}/api'
output principalId string = app.identity.principalId
