namespace SmtpAmpProxy.Mime.Tests;
public class SmokeTests { [Fact] public void One() => Assert.Equal(2, 1 + 1); [Fact] public void Sk() => Assert.Skip("why"); }
