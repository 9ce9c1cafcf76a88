using System.Text.Json;
using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Deployment;

/// <summary>
/// The Queue-mode variants: the StatefulSet overlay mounts a claim per replica where the configuration
/// puts the spool, and the image and compose file keep the spool on a volume.
/// </summary>
public sealed class QueueManifestTests
{
    private static string QueueDirectory => Path.Combine(RepoPaths.Root, "deploy", "kubernetes-queue");

    [Fact]
    public void StatefulSet_SpoolClaim_MountedWhereTheQueueModeConfigurationPutsTheSpool()
    {
        var documents = DeploymentFiles.LoadYaml(Directory.GetFiles(QueueDirectory, "*.yaml")).Values.SelectMany(d => d).ToList();
        var set = DeploymentFiles.Kind(documents, "StatefulSet");
        var container = set.At("spec", "template", "spec", "containers")[0];
        var environment = container.At("env").EnumerateArray()
            .Where(e => e.TryGetProperty("value", out _))
            .ToDictionary(e => e.At("name").GetString()!, e => (string?)e.At("value").GetString());

        environment[ProxyConfiguration.ApiKeyVariable] = "placeholder";
        var options = ProxyConfiguration.Load(["--config", Path.Combine(RepoPaths.Root, "config", "appsettings.json")], environment).Options;
        Assert.Equal(RelayMode.Queue, options.Relay.Mode);

        var claim = Assert.Single(set.At("spec", "volumeClaimTemplates").EnumerateArray());
        var mount = container.At("volumeMounts").EnumerateArray().Single(m => m.At("name").GetString() == claim.At("metadata", "name").GetString());
        Assert.Equal(options.Queue.Directory, mount.At("mountPath").GetString());
        Assert.Equal("smtp-amp-proxy-spool", set.At("spec", "serviceName").GetString());
        Assert.Contains(documents, d => d.At("kind").GetString() == "Service" && d.At("metadata", "name").GetString() == "smtp-amp-proxy-spool");
    }

    [Fact]
    public void Kustomization_BuildsOnTheBaseAndDeletesItsDeployment()
    {
        var documents = DeploymentFiles.LoadYaml(Directory.GetFiles(QueueDirectory, "*.yaml")).Values.SelectMany(d => d).ToList();
        var kustomization = DeploymentFiles.Kind(documents, "Kustomization");

        Assert.Contains("../kubernetes", kustomization.At("resources").EnumerateArray().Select(r => r.GetString()));
        var patch = kustomization.At("patches")[0].At("path").GetString()!;
        var deleted = Assert.Single(DeploymentFiles.LoadYaml([Path.Combine(QueueDirectory, patch)]).Values.Single());
        Assert.Equal("delete", deleted.At("$patch").GetString());
        Assert.Equal("Deployment", deleted.At("kind").GetString());
    }

    [Fact]
    public void Image_SpoolFolder_IsAVolumeOwnedByTheAppUser()
    {
        var runtime = DeploymentFiles.DockerInstructions().GroupBy(i => i.Stage).Last().ToList();
        var spool = new QueueModeOptions().Directory;

        Assert.Contains(runtime, i => i.Keyword == "VOLUME" && i.Arguments == spool);
        Assert.Contains(runtime, i => i.Keyword == "RUN" && i.Arguments.Contains($"chown \"$APP_UID\" /app/outbox {spool}", StringComparison.Ordinal));
    }

    [Fact]
    public void Compose_QueueService_KeepsTheSpoolOnANamedVolume()
    {
        var compose = Assert.Single(DeploymentFiles.LoadYaml([DeploymentFiles.Compose]).Values.Single());
        var service = compose.At("services", "proxy-queue");
        var spool = service.At("environment", "Proxy__Queue__Directory").GetString();

        Assert.Equal("Queue", service.At("environment", "Proxy__Relay__Mode").GetString());
        Assert.Contains($"spool:{spool}", service.At("volumes").EnumerateArray().Select(v => v.GetString()));
        Assert.True(compose.At("volumes").TryGetProperty("spool", out _));
    }
}
