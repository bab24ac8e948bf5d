// Key Vault (RBAC) holding every secret the Function App reads through Key Vault references.
param location string
param tags object
param token string
@secure()
param vultrApiKey string
@secure()
param jwtSigningKey string

@secure()
param phoneHomeKey string
@secure()
param tutorApiKey string
param postgresServerName string
param postgresAdminLogin string
@secure()
param postgresAdminPassword string
param redisName string
param signalRName string

resource postgres 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' existing = {
  name: postgresServerName
}

resource redis 'Microsoft.Cache/redis@2024-03-01' existing = {
  name: redisName
}

resource signalR 'Microsoft.SignalRService/signalR@2024-03-01' existing = {
  name: signalRName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: 'kv-${take(token, 20)}'
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
  }
}

var secrets = {
  'vultr-api-key': vultrApiKey
  'jwt-signing-key': jwtSigningKey
  // A secret cannot be empty: without a key the vault holds a placeholder, which the Function App is not given.
  'tutor-api-key': empty(tutorApiKey) ? 'none' : tutorApiKey
  'postgres-connection': 'Host=${postgres.properties.fullyQualifiedDomainName};Database=labmanager;Username=${postgresAdminLogin};Password=${postgresAdminPassword};SSL Mode=Require'
  'redis-connection': '${redis.properties.hostName}:${redis.properties.sslPort},password=${redis.listKeys().primaryKey},ssl=True,abortConnect=False'
  'signalr-connection': signalR.listKeys().primaryConnectionString
  'phone-home-key': phoneHomeKey
}

var secretNames = ['vultr-api-key', 'jwt-signing-key', 'tutor-api-key', 'postgres-connection', 'redis-connection', 'signalr-connection', 'phone-home-key']

resource stored 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [for name in secretNames: {
  parent: vault
  name: name
  properties: { value: secrets[name] }
}]

output name string = vault.name
output secretUris object = {
  vultrApiKey: stored[0].properties.secretUri
  jwtSigningKey: stored[1].properties.secretUri
  tutorApiKey: stored[2].properties.secretUri
  postgres: stored[3].properties.secretUri
  redis: stored[4].properties.secretUri
  signalR: stored[5].properties.secretUri
  phoneHomeKey: stored[6].properties.secretUri
}
