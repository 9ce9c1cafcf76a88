using System.Net;
using System.Text.Json;
using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Http;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Deployment;

/// <summary>
/// The Kubernetes manifests, the compose file and the Dockerfile agree with each other and with the
/// appliance: the paths and ports they name are the ones it serves, and the configuration they carry
/// passes the same validation as at start.
/// </summary>
public sealed class ManifestTests
{
    [Fact]
    public void Kubernetes_EveryDocument_HasApiVersionKindAndName()
    {
        var documents = DeploymentFiles.KubernetesDocuments();

        Assert.NotEmpty(documents);
        foreach (var document in documents)
        {
            Assert.False(string.IsNullOrEmpty(document.At("apiVersion").GetString()));
            var kind = document.At("kind").GetString();
            if (kind != "Kustomization")
            {
                Assert.False(string.IsNullOrEmpty(document.At("metadata", "name").GetString()), $"{kind} without metadata.name");
            }
        }

        Assert.Equal(["ConfigMap", "Deployment", "Kustomization", "PodDisruptionBudget", "Secret", "Service"],
            documents.Select(d => d.At("kind").GetString()).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Kustomization_ListsEveryOtherManifest()
    {
        var files = Directory.GetFiles(DeploymentFiles.KubernetesDirectory, "*.yaml").Select(Path.GetFileName).ToList();
        var kustomization = DeploymentFiles.Kind(DeploymentFiles.KubernetesDocuments(), "Kustomization");

        var listed = kustomization.At("resources").EnumerateArray().Select(r => r.GetString()).ToList();

        Assert.Equal(files.Where(f => f != "kustomization.yaml").Order(StringComparer.Ordinal), listed.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Deployment_Probes_PointAtTheServedPathsOnTheConfiguredHttpPort()
    {
        var documents = DeploymentFiles.KubernetesDocuments();
        var container = Container(documents);
        var httpPort = IPEndPoint.Parse(ConfigMapOptions(documents).Http.Endpoint).Port;

        Assert.Equal("/healthz", container.At("livenessProbe", "httpGet", "path").GetString());
        Assert.Equal("/readyz", container.At("readinessProbe", "httpGet", "path").GetString());
        Assert.Equal("/healthz", container.At("startupProbe", "httpGet", "path").GetString());
        foreach (var probe in new[] { "livenessProbe", "readinessProbe", "startupProbe" })
        {
            Assert.Equal(httpPort, ContainerPort(container, container.At(probe, "httpGet", "port")));
        }
    }

    [Fact]
    public void Deployment_ContainerPorts_MatchTheConfiguredListeners()
    {
        var documents = DeploymentFiles.KubernetesDocuments();
        var container = Container(documents);
        var options = ConfigMapOptions(documents);

        Assert.Equal(IPEndPoint.Parse(Assert.Single(options.EffectiveListen).Endpoint).Port, ContainerPort(container, Json("\"smtp\"")));
        Assert.Equal(IPEndPoint.Parse(options.Http.Endpoint).Port, ContainerPort(container, Json("\"http\"")));
    }

    [Fact]
    public void Deployment_SecurityContext_NonRootReadOnlyWithWritableTmp()
    {
        var documents = DeploymentFiles.KubernetesDocuments();
        var pod = DeploymentFiles.Kind(documents, "Deployment").At("spec", "template", "spec");
        var container = Container(documents);

        Assert.True(pod.At("securityContext", "runAsNonRoot").GetBoolean());
        Assert.NotEqual(0, pod.At("securityContext", "runAsUser").GetInt32());
        Assert.True(container.At("securityContext", "readOnlyRootFilesystem").GetBoolean());
        Assert.False(container.At("securityContext", "allowPrivilegeEscalation").GetBoolean());
        Assert.Equal(["ALL"], container.At("securityContext", "capabilities", "drop").EnumerateArray().Select(c => c.GetString()));
        Assert.True(container.At("resources", "limits").TryGetProperty("memory", out _));
        Assert.True(container.At("resources", "requests").TryGetProperty("cpu", out _));

        var mounts = container.At("volumeMounts").EnumerateArray().ToDictionary(m => m.At("mountPath").GetString()!, m => m.At("name").GetString()!);
        var volumes = pod.At("volumes").EnumerateArray().ToDictionary(v => v.At("name").GetString()!);
        Assert.True(volumes[mounts["/tmp"]].TryGetProperty("emptyDir", out _), "/tmp must be an emptyDir");
        Assert.Equal("smtp-amp-proxy", volumes[mounts["/app/config"]].At("configMap", "name").GetString());
        Assert.True(volumes[mounts["/app/certs"]].TryGetProperty("secret", out _), "/app/certs must come from a Secret");
    }

    [Fact]
    public void Deployment_ApiKey_ComesFromTheSecretThatDefinesIt()
    {
        var documents = DeploymentFiles.KubernetesDocuments();
        var env = Container(documents).At("env").EnumerateArray().Single(e => e.At("name").GetString() == ProxyConfiguration.ApiKeyVariable);
        var secret = DeploymentFiles.Kind(documents, "Secret");

        Assert.Equal(secret.At("metadata", "name").GetString(), env.At("valueFrom", "secretKeyRef", "name").GetString());
        var key = env.At("valueFrom", "secretKeyRef", "key").GetString()!;
        Assert.True(secret.At("stringData").TryGetProperty(key, out _), $"the Secret has no {key}");
    }

    [Fact]
    public void Secret_HoldsAPlaceholderNotAKey()
    {
        foreach (var file in Directory.GetFiles(DeploymentFiles.KubernetesDirectory).Append(DeploymentFiles.Compose))
        {
            Assert.DoesNotMatch(DeploymentFiles.SendGridKeyShape(), File.ReadAllText(file));
        }

        var value = DeploymentFiles.Kind(DeploymentFiles.KubernetesDocuments(), "Secret").At("stringData", ProxyConfiguration.ApiKeyVariable).GetString();
        Assert.Contains("replace", value);
    }

    [Fact]
    public void Service_Ports_Map25ToSmtpAndExposeMetrics()
    {
        var documents = DeploymentFiles.KubernetesDocuments();
        var service = DeploymentFiles.Kind(documents, "Service");
        var container = Container(documents);
        var ports = service.At("spec", "ports").EnumerateArray().ToDictionary(p => p.At("port").GetInt32());

        Assert.Equal(2525, ContainerPort(container, ports[25].At("targetPort")));
        Assert.Equal(8080, ContainerPort(container, ports[8080].At("targetPort")));
        Assert.All(ports.Values, p => Assert.Equal("TCP", p.At("protocol").GetString()));
        AssertSelects(service.At("spec", "selector"), documents);
    }

    [Fact]
    public void PodDisruptionBudget_SelectsTheDeploymentsPods()
    {
        var documents = DeploymentFiles.KubernetesDocuments();
        var budget = DeploymentFiles.Kind(documents, "PodDisruptionBudget");

        Assert.True(budget.At("spec", "minAvailable").GetInt32() >= 1);
        Assert.True(DeploymentFiles.Kind(documents, "Deployment").At("spec", "replicas").GetInt32() > budget.At("spec", "minAvailable").GetInt32());
        AssertSelects(budget.At("spec", "selector", "matchLabels"), documents);
    }

    [Fact]
    public void ConfigMap_AppSettings_PassesStartupValidation()
    {
        var options = ConfigMapOptions(DeploymentFiles.KubernetesDocuments());

        Assert.Equal(UpstreamMode.Smtp, options.Upstream.Mode);
        Assert.Equal("smtp.sendgrid.net", options.Upstream.Host);
        Assert.NotNull(OperationsPort.ParseEndpoint(options.Http.Endpoint));
    }

    [Fact]
    public void Deployment_GracePeriod_CoversTheShutdownDrain()
    {
        var documents = DeploymentFiles.KubernetesDocuments();
        var grace = DeploymentFiles.Kind(documents, "Deployment").At("spec", "template", "spec", "terminationGracePeriodSeconds").GetInt32();

        Assert.True(TimeSpan.FromSeconds(grace) > ConfigMapOptions(documents).Limits.ShutdownDrainTimeout);
    }

    [Fact]
    public void Compose_EveryProxyService_HasAValidConfigurationAndPublishesSmtpAndHttp()
    {
        var compose = Assert.Single(DeploymentFiles.LoadYaml([DeploymentFiles.Compose]).Values.Single());
        var proxies = compose.At("services").EnumerateObject().Where(s => s.Value.TryGetProperty("build", out _)).ToList();

        Assert.Contains(proxies, s => s.Name == "proxy");
        foreach (var service in proxies)
        {
            var environment = service.Value.At("environment").EnumerateObject()
                .ToDictionary(e => e.Name, e => (string?)e.Value.GetString());
            environment[ProxyConfiguration.ApiKeyVariable] = "placeholder";
            var configuration = ProxyConfiguration.Load(["--config", Path.Combine(RepoPaths.Root, "config", "appsettings.json")], environment);
            Assert.Empty(ProxyOptionsValidator.Validate(configuration.Options, configuration.ContentRoot));

            var published = service.Value.At("ports").EnumerateArray().Select(p => p.GetString()!.Split(':')[^1]).ToList();
            Assert.Contains("2525", published);
            Assert.Contains("8080", published);
        }
    }

    [Fact]
    public void Compose_EveryProxyService_NamesItsRelayNetworksExplicitly_NoneBroad()
    {
        var compose = Assert.Single(DeploymentFiles.LoadYaml([DeploymentFiles.Compose]).Values.Single());
        var subnet = IPNetwork.Parse(compose.At("networks", "relay", "ipam", "config")[0].At("subnet").GetString()!);
        var proxies = compose.At("services").EnumerateObject().Where(s => s.Value.TryGetProperty("image", out var image)
            && image.GetString()!.StartsWith("smtp-amp-proxy", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(proxies);
        foreach (var service in proxies)
        {
            var networks = service.Value.At("environment").EnumerateObject()
                .Where(e => e.Name.StartsWith("Proxy__Access__AllowedNetworks__", StringComparison.Ordinal))
                .Select(e => e.Value.GetString()!)
                .ToList();
            Assert.NotEmpty(networks);
            Assert.Empty(SmtpAmpProxy.Access.RelayExposure.BroadNetworks(networks));

            // The published ports' connections arrive from the compose network's gateway: that address is named.
            Assert.Contains(networks, n => IPNetwork.Parse(n) is var network && subnet.Contains(network.BaseAddress));
        }
    }

    [Fact]
    public void Kubernetes_ConfigMap_NamesAllowedNetworks_NeverThePrivateRangesAsAWhole()
    {
        var allowed = ConfigMapOptions(DeploymentFiles.KubernetesDocuments()).Access.AllowedNetworks;
        Assert.NotNull(allowed);
        Assert.DoesNotContain("10.0.0.0/8", allowed);
        Assert.DoesNotContain("172.16.0.0/12", allowed);
        Assert.DoesNotContain("192.168.0.0/16", allowed);
    }

    [Fact]
    public void Dockerfile_Runtime_IsAspNetNonRootWithHealthCheckAndPorts()
    {
        var instructions = DeploymentFiles.DockerInstructions();
        var runtime = instructions.Where(i => i.Stage == instructions.Max(x => x.Stage)).ToList();

        Assert.StartsWith("mcr.microsoft.com/dotnet/sdk:10.0", instructions.First(i => i.Keyword == "FROM").Arguments);
        Assert.StartsWith("mcr.microsoft.com/dotnet/aspnet:10.0", runtime.Single(i => i.Keyword == "FROM").Arguments);
        var user = runtime.Single(i => i.Keyword == "USER").Arguments;
        Assert.True(user == "$APP_UID" || (int.TryParse(user, out var uid) && uid > 0), $"USER {user} must be a numeric non-root id for runAsNonRoot");
        Assert.Equal(["2525", "8080"], runtime.Single(i => i.Keyword == "EXPOSE").Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["dotnet", "/app/smtp-amp-proxy.dll", "health"], DeploymentFiles.ExecForm(runtime.Single(i => i.Keyword == "HEALTHCHECK").Arguments));
        Assert.Equal(["dotnet", "/app/smtp-amp-proxy.dll"], DeploymentFiles.ExecForm(runtime.Single(i => i.Keyword == "ENTRYPOINT").Arguments));
        Assert.Equal("/app", runtime.Single(i => i.Keyword == "WORKDIR").Arguments);
        Assert.DoesNotContain(instructions, i => i.Keyword is "ENV" or "ARG" && i.Arguments.Contains(ProxyConfiguration.ApiKeyVariable, StringComparison.Ordinal));
    }

    [Fact]
    public void Dockerfile_CopySources_ExistAndAreInTheDockerignoreAllowList()
    {
        var allowed = File.ReadAllLines(Path.Combine(RepoPaths.Root, ".dockerignore"))
            .Where(l => l.StartsWith('!')).Select(l => l[1..].TrimEnd('/')).ToList();
        var copies = DeploymentFiles.DockerInstructions().Where(i => i.Keyword == "COPY" && !i.Arguments.StartsWith("--from", StringComparison.Ordinal));

        foreach (var (_, _, arguments) in copies)
        {
            foreach (var source in arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries)[..^1])
            {
                var path = Path.Combine(RepoPaths.Root, source);
                Assert.True(File.Exists(path) || Directory.Exists(path), $"COPY {source}: not in the repository");
                Assert.Contains(allowed, a => source.TrimEnd('/') == a || source.StartsWith(a + "/", StringComparison.Ordinal));
            }
        }

        Assert.DoesNotContain(allowed, a => a.StartsWith("certs", StringComparison.Ordinal) || a.StartsWith("tests", StringComparison.Ordinal));
    }

    private static JsonElement Container(IEnumerable<JsonElement> documents) =>
        Assert.Single(DeploymentFiles.Kind(documents, "Deployment").At("spec", "template", "spec", "containers").EnumerateArray());

    /// <summary>A port given by number or by the name of one of the container's ports.</summary>
    private static int ContainerPort(JsonElement container, JsonElement port)
    {
        if (port.ValueKind == JsonValueKind.Number)
        {
            return port.GetInt32();
        }

        var named = container.At("ports").EnumerateArray().SingleOrDefault(p => p.At("name").GetString() == port.GetString());
        Assert.True(named.ValueKind == JsonValueKind.Object, $"no container port named {port}");
        return named.At("containerPort").GetInt32();
    }

    private static void AssertSelects(JsonElement selector, IEnumerable<JsonElement> documents)
    {
        var labels = DeploymentFiles.Kind(documents, "Deployment").At("spec", "template", "metadata", "labels");
        foreach (var pair in selector.EnumerateObject())
        {
            Assert.Equal(pair.Value.GetString(), labels.At(pair.Name).GetString());
        }
    }

    /// <summary>The ConfigMap's appsettings.json loaded and validated as the proxy does at start.</summary>
    private static ProxyOptions ConfigMapOptions(IEnumerable<JsonElement> documents)
    {
        var json = DeploymentFiles.Kind(documents, "ConfigMap").At("data", "appsettings.json").GetString()!;
        using var directory = new TempDirectory();
        File.WriteAllText(directory.File("appsettings.json"), json);
        var configuration = ProxyConfiguration.Load(["--config", directory.File("appsettings.json")],
            new Dictionary<string, string?> { [ProxyConfiguration.ApiKeyVariable] = "placeholder" });
        Assert.Empty(ProxyOptionsValidator.Validate(configuration.Options, configuration.ContentRoot));
        return configuration.Options;
    }

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();
}
