using LabManager.VultrEmulator;

var app = VultrEmulatorApp.Build(args);
await app.RunAsync();
