using System.Text;
using System.Text.Json;
using SmtpAmpProxy.Cli;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Cli;

public sealed class CheckCommandTests
{
    private static async Task<(int Exit, string Out, string Err)> RunAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = await CheckCommand.RunAsync(args, Stream.Null, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task Json_MisorderedAmp_IsRewriteWithActionsAndTree()
    {
        using var directory = new TempDirectory();
        var path = directory.File("late.eml");
        await File.WriteAllBytesAsync(path, TestMessages.Alternative("late", TestMessages.Plain, TestMessages.Html, TestMessages.Amp), TestContext.Current.CancellationToken);

        var (exit, output, error) = await RunAsync("--json", path);

        Assert.Equal(CheckCommand.ExitOk, exit);
        using var json = JsonDocument.Parse(output);
        Assert.Equal("rewrite", json.RootElement.GetProperty("verdict").GetString());
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("code").ValueKind);
        Assert.Contains(json.RootElement.GetProperty("actions").EnumerateArray(), a => a.GetProperty("code").GetString() == "amp-after-html");
        Assert.Equal(JsonValueKind.Object, json.RootElement.GetProperty("tree").ValueKind);
        Assert.Contains("rewrite", error);
    }

    [Fact]
    public async Task Json_MisplacedAmp_IsRejectWithCodeAndExitThree()
    {
        using var directory = new TempDirectory();
        var path = directory.File("bad.eml");
        await File.WriteAllBytesAsync(path, TestMessages.MisplacedAmp("bad"), TestContext.Current.CancellationToken);

        var (exit, output, error) = await RunAsync("--json", path);

        Assert.Equal(CheckCommand.ExitRejected, exit);
        using var json = JsonDocument.Parse(output);
        Assert.Equal("reject", json.RootElement.GetProperty("verdict").GetString());
        Assert.Equal("amp-misplaced", json.RootElement.GetProperty("code").GetString());
        Assert.Contains("amp-misplaced", error);
    }

    [Fact]
    public async Task Text_PlainMessage_PassesAndPrintsTheVerdict()
    {
        using var directory = new TempDirectory();
        var path = directory.File("plain.eml");
        await File.WriteAllBytesAsync(path, TestMessages.PlainText("plain"), TestContext.Current.CancellationToken);

        var (exit, output, _) = await RunAsync(path);

        Assert.Equal(CheckCommand.ExitOk, exit);
        Assert.Contains("pass", output, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Write_RepairedMessage_IsWrittenWithAmpBeforeHtml()
    {
        using var directory = new TempDirectory();
        var input = directory.File("late.eml");
        var output = directory.File("fixed.eml");
        await File.WriteAllBytesAsync(input, TestMessages.Alternative("late", TestMessages.Html, TestMessages.Amp), TestContext.Current.CancellationToken);

        var (exit, _, _) = await RunAsync(input, "--write", output);

        Assert.Equal(CheckCommand.ExitOk, exit);
        Assert.Equal([TestMessages.Amp, TestMessages.Html], Assert.Single(PythonMime.Summarise(output).Alternatives));
    }

    [Fact]
    public async Task MissingFile_ExitsOneWithAMessage()
    {
        var (exit, _, error) = await RunAsync("/nonexistent/message.eml");

        Assert.Equal(CheckCommand.ExitUnreadable, exit);
        Assert.Contains("/nonexistent/message.eml", error);
    }

    [Fact]
    public async Task NoArguments_ExitsTwoWithUsage()
    {
        var (exit, _, error) = await RunAsync();

        Assert.Equal(CheckCommand.ExitUsage, exit);
        Assert.Contains("usage", error);
    }

    [Fact]
    public void RealProcess_ReadsStandardInput()
    {
        var message = Encoding.UTF8.GetString(TestMessages.Alternative("stdin", TestMessages.Html, TestMessages.Amp));

        var result = ProxyProcess.Run(["check", "--json", "-"], stdin: message);

        Assert.Equal(0, result.ExitCode);
        using var json = JsonDocument.Parse(result.StdOut);
        Assert.Equal("rewrite", json.RootElement.GetProperty("verdict").GetString());
    }
}
