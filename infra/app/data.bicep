// PostgreSQL Flexible Server with the labmanager database, Azure Cache for Redis, and Azure SignalR Service (Serverless).
param location string
param tags object
param token string
param postgresAdminLogin string
@secure()
param postgresAdminPassword string
param postgresSku string
param redisSkuName string
param redisCapacity int
param signalRSku string

resource postgres 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: 'psql-${token}'
  location: location
  tags: tags
  sku: {
    name: postgresSku
    tier: startsWith(postgresSku, 'Standard_B') ? 'Burstable' : 'GeneralPurpose'
  }
  properties: {
    version: '16'
    administratorLogin: postgresAdminLogin
    administratorLoginPassword: postgresAdminPassword
    storage: { storageSizeGB: 32 }
    backup: { backupRetentionDays: 7, geoRedundantBackup: 'Disabled' }
    highAvailability: { mode: 'Disabled' }
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: postgres
  name: 'labmanager'
}

// The Function App's outbound addresses are not fixed on Flex Consumption: allow Azure services.
resource allowAzure 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = {
  parent: postgres
  name: 'AllowAzureServices'
  properties: { startIpAddress: '0.0.0.0', endIpAddress: '0.0.0.0' }
}

resource redis 'Microsoft.Cache/redis@2024-03-01' = {
  name: 'redis-${token}'
  location: location
  tags: tags
  properties: {
    sku: { name: redisSkuName, family: redisSkuName == 'Premium' ? 'P' : 'C', capacity: redisCapacity }
    enableNonSslPort: false
    minimumTlsVersion: '1.2'
  }
}

resource signalR 'Microsoft.SignalRService/signalR@2024-03-01' = {
  name: 'sigr-${token}'
  location: location
  tags: tags
  sku: { name: signalRSku, capacity: 1 }
  kind: 'SignalR'
  properties: {
    features: [
      { flag: 'ServiceMode', value: 'Serverless' }
    ]
    cors: { allowedOrigins: ['*'] }
  }
}

output postgresServerName string = postgres.name
output redisName string = redis.name
output signalRName string = signalR.name
