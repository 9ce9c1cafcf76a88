using System.Text;
using SmtpAmpProxy.Normalizer.Options;
using SmtpAmpProxy.Normalizer.Results;
using SmtpAmpProxy.Normalizer.Rules;
using SmtpAmpProxy.Normalizer.Tests.Support;
using static SmtpAmpProxy.Normalizer.Tests.Support.Mail;

namespace SmtpAmpProxy.Normalizer.Tests.Rules;

public sealed class RejectTextTests
{
    [Theory]
    [InlineData("multipart/x\u00e9vil\u0007\r\n554 forged", "multipart/x?vil? 554 forged")]
    [InlineData("  leading\t\ttabs  ", "leading tabs")]
    [InlineData("nul\0byte", "nul?byte")]
    public void Sanitize_ControlAndEightBitCharacters_BecomeOneLineOfPrintableAscii(string input, string expected)
    {
        Assert.Equal(expected, ReplyText.Sanitize(input));
    }

    [Fact]
    public void Sanitize_OverlongText_IsCutToTheLimitWithAnEllipsis()
    {
        string text = ReplyText.Sanitize(new string('a', 1000));

        Assert.Equal(NormalizationResult.MaxRejectTextLength, text.Length);
        Assert.EndsWith("...", text);
    }

    [Fact]
    public void Normalize_ManyRejectReasons_NamesTheMostFundamentalAndListsTheRest()
    {
        var message = Message(Mixed(Alt(Amp(), Amp()), Amp()));

        var result = Trees.Normalize(message, new AmpOptions { OnDuplicate = DuplicateAction.Reject });

        Assert.Equal("amp-misplaced", result.RejectCode);
        Assert.Equal(["amp-no-fallback", "amp-duplicate"], result.Warnings.Select(w => w.Code));
    }

    [Fact]
    public void Normalize_RandomMutationsOfAnAmpMessage_NeverThrowAndKeepRejectTextSafe()
    {
        var seed = Message(Mixed(Alt(Plain(), Html(), Amp()), Related(Amp(), Image()), Attachment()));
        var random = new Random(20240601);
        byte[] alphabet = Encoding.ASCII.GetBytes("-\r\n:;=\" /abx\t");
        for (int round = 0; round < 300; round++)
        {
            var message = (byte[])seed.Clone();
            for (int k = 0; k < 8; k++)
            {
                message[random.Next(message.Length)] = alphabet[random.Next(alphabet.Length)];
            }

            var result = Trees.Normalize(message);

            if (result.Verdict == AmpVerdict.Reject)
            {
                Assert.All(result.RejectText!, c => Assert.InRange(c, ' ', '~'));
                Assert.InRange(result.RejectText!.Length, 1, NormalizationResult.MaxRejectTextLength);
            }
            else
            {
                Assert.NotEmpty(Trees.Output(message, result));
            }
        }
    }
}
