// The tutor's model in the tenant (tutorProvider azureopenai): an Azure OpenAI account with one model deployment, key-less
// (local auth off), which the Function App reaches with its managed identity ('Cognitive Services OpenAI User').
param location string
param tags object
param subdomain string
param deployment string
param model string
param modelVersion string
@description('Thousands of tokens per minute the deployment may use.')
param capacity int
param principalId string

var openAiUser = '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd'

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  name: subdomain
  location: location
  tags: tags
  kind: 'OpenAI'
  sku: { name: 'S0' }
  properties: {
    customSubDomainName: subdomain
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

resource modelDeployment 'Microsoft.CognitiveServices/accounts/deployments@2024-10-01' = {
  parent: account
  name: deployment
  sku: { name: 'GlobalStandard', capacity: capacity }
  properties: {
    model: { format: 'OpenAI', name: model, version: modelVersion }
  }
}

resource userRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, principalId, openAiUser)
  scope: account
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', openAiUser)
  }
}

output endpoint string = account.properties.endpoint
