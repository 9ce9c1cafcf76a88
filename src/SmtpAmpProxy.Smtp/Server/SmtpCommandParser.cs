using System.Buffers;
using System.Text;
using System.Text.Unicode;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Smtp.Server;

/// <summary>
/// Reads one command line and parses it: the verb is matched once (ASCII only, so no culture ever folds
/// 'ſ' or the Kelvin sign into a keyword), then that verb's argument parser runs. Arguments that will be
/// passed on (paths, parameters, EHLO name) are checked free of CR, LF, NUL and other control characters.
/// </summary>
internal static class SmtpCommandParser
{
    private const int MaxLocalPartBytes = 64;   // RFC 5321 4.5.3.1.1
    private const int MaxDomainBytes = 255;     // RFC 5321 4.5.3.1.2
    private const int MaxPathBytes = 256;       // RFC 5321 4.5.3.1.3, brackets included
    private const int StackLineBytes = 1024;

    private static readonly SmtpReply UnknownCommand = new(500, "5.5.2", "Error: command not recognized");
    private static readonly SmtpReply BadSender = new(501, "5.1.7", "Bad sender address syntax");
    private static readonly SmtpReply BadRecipient = new(501, "5.1.3", "Bad recipient address syntax");
    private static readonly SmtpReply MailSyntax = new(501, "5.5.4", "Syntax: MAIL FROM:<address>");
    private static readonly SmtpReply RcptSyntax = new(501, "5.5.4", "Syntax: RCPT TO:<address>");
    private static readonly SmtpReply ParameterSyntax = new(501, "5.5.4", "Bad parameter syntax");
    private static readonly SmtpReply SizeSyntax = new(501, "5.5.4", "Bad message size syntax");
    private static readonly SmtpReply BodySyntax = new(501, "5.5.4", "Bad BODY parameter: use 7BIT or 8BITMIME");
    private static readonly SmtpReply HeloSyntax = new(501, "5.5.4", "Syntax: HELO hostname");
    private static readonly SmtpReply EhloSyntax = new(501, "5.5.4", "Syntax: EHLO hostname");
    private static readonly SmtpReply VrfySyntax = new(501, "5.5.4", "Syntax: VRFY address");
    private static readonly SmtpReply AuthSyntax = new(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");

    /// <summary>
    /// Returns false, consuming nothing, until a whole line (up to LF) is buffered. A line that cannot fit in
    /// <paramref name="maxLineBytes"/> (CRLF included) comes back as <see cref="SmtpVerb.LineTooLong"/> with
    /// everything buffered consumed, so the caller never holds more than the limit.
    /// </summary>
    public static bool TryParse(ref SequenceReader<byte> reader, int maxLineBytes, out SmtpCommand command) =>
        TryParse(ref reader, maxLineBytes, null, out command);

    /// <param name="strings">The session's cache of repeated MAIL/RCPT strings, or null to allocate every time.</param>
    public static bool TryParse(ref SequenceReader<byte> reader, int maxLineBytes, SmtpStringCache? strings, out SmtpCommand command)
    {
        if (!reader.TryReadTo(out ReadOnlySequence<byte> line, (byte)'\n', advancePastDelimiter: true))
        {
            if (reader.Remaining >= maxLineBytes)
            {
                reader.AdvanceToEnd();
                command = new SmtpCommand { Verb = SmtpVerb.LineTooLong, LineComplete = false };
                return true;
            }

            command = default;
            return false;
        }

        if (line.Length + 1 > maxLineBytes)
        {
            command = new SmtpCommand { Verb = SmtpVerb.LineTooLong, LineComplete = true };
            return true;
        }

        if (line.IsSingleSegment)
        {
            command = Parse(line.FirstSpan, strings);
            return true;
        }

        var length = (int)line.Length;
        byte[]? rented = null;
        var copy = length <= StackLineBytes ? stackalloc byte[StackLineBytes] : (rented = ArrayPool<byte>.Shared.Rent(length));
        line.CopyTo(copy);
        command = Parse(copy[..length], strings);
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }

        return true;
    }

    /// <summary>Parses one line without its LF (a CR before the LF is dropped here).</summary>
    public static SmtpCommand Parse(ReadOnlySpan<byte> line) => Parse(line, null);

    /// <summary>Parses one line without its LF, taking repeated MAIL/RCPT strings from <paramref name="strings"/>.</summary>
    public static SmtpCommand Parse(ReadOnlySpan<byte> line, SmtpStringCache? strings)
    {
        if (line.Length > 0 && line[^1] == (byte)'\r')
        {
            line = line[..^1];
        }

        var verbLength = line.IndexOf((byte)' ');
        if (verbLength < 0)
        {
            verbLength = line.Length;
        }

        var verb = MatchVerb(line[..verbLength]);
        var args = TrimSpaces(line[verbLength..]);
        return verb switch
        {
            SmtpVerb.Ehlo => ParseHelo(SmtpVerb.Ehlo, args, EhloSyntax),
            SmtpVerb.Helo => ParseHelo(SmtpVerb.Helo, args, HeloSyntax),
            SmtpVerb.Mail => ParseMail(args, strings),
            SmtpVerb.Rcpt => ParseRcpt(args, strings),
            SmtpVerb.Data or SmtpVerb.Rset or SmtpVerb.Quit or SmtpVerb.StartTls => ParseBare(verb, args),
            SmtpVerb.Noop or SmtpVerb.Help => new SmtpCommand { Verb = verb },
            SmtpVerb.Vrfy => args.IsEmpty ? SmtpCommand.Fail(verb, VrfySyntax) : new SmtpCommand { Verb = verb },
            SmtpVerb.Auth => ParseAuth(args),
            _ => SmtpCommand.Fail(SmtpVerb.Unknown, UnknownCommand),
        };
    }

    /// <summary>
    /// Folds ASCII letters only: any byte that is not A-Z/a-z makes the verb unknown, so UTF-8 look-alikes
    /// (U+017F 'ſ', U+212A Kelvin sign) can never match a keyword the way a culture-aware compare might.
    /// </summary>
    internal static SmtpVerb MatchVerb(ReadOnlySpan<byte> verb)
    {
        if (verb.Length is 0 or > 8)
        {
            return SmtpVerb.Unknown;
        }

        ulong key = 0;
        foreach (var b in verb)
        {
            var upper = (byte)(b & 0xDF);
            if (upper is < (byte)'A' or > (byte)'Z')
            {
                return SmtpVerb.Unknown;
            }

            key = (key << 8) | upper;
        }

        return key switch
        {
            0x48454C4F => SmtpVerb.Helo,
            0x45484C4F => SmtpVerb.Ehlo,
            0x4D41494C => SmtpVerb.Mail,
            0x52435054 => SmtpVerb.Rcpt,
            0x44415441 => SmtpVerb.Data,
            0x52534554 => SmtpVerb.Rset,
            0x4E4F4F50 => SmtpVerb.Noop,
            0x51554954 => SmtpVerb.Quit,
            0x56524659 => SmtpVerb.Vrfy,
            0x48454C50 => SmtpVerb.Help,
            0x41555448 => SmtpVerb.Auth,
            0x5354415254544C53 => SmtpVerb.StartTls,
            _ => SmtpVerb.Unknown,
        };
    }

    private static SmtpCommand ParseBare(SmtpVerb verb, ReadOnlySpan<byte> args) =>
        args.IsEmpty
            ? new SmtpCommand { Verb = verb }
            : SmtpCommand.Fail(verb, new SmtpReply(501, "5.5.4", "Syntax: " + verb switch
            {
                SmtpVerb.Data => "DATA",
                SmtpVerb.Rset => "RSET",
                SmtpVerb.Quit => "QUIT",
                _ => "STARTTLS",
            }));

    private static SmtpCommand ParseHelo(SmtpVerb verb, ReadOnlySpan<byte> args, SmtpReply syntax)
    {
        if (args.IsEmpty || args.Length > MaxDomainBytes + 2)
        {
            return SmtpCommand.Fail(verb, syntax);
        }

        foreach (var b in args)
        {
            // A space means two words; a control byte would travel into Received: headers and logs.
            if (b <= 0x20 || b == 0x7F)
            {
                return SmtpCommand.Fail(verb, syntax);
            }
        }

        // RFC 6531 3.7.1: the client cannot know about SMTPUTF8 before the EHLO reply, so the name is LDH or
        // A-labels only. A UTF-8 name would also reach the Received: field of mail sent without SMTPUTF8, where
        // 8-bit header bytes are not allowed (RFC 6531 3.7.3).
        if (!Ascii.IsValid(args))
        {
            return SmtpCommand.Fail(verb, SmtpReplies.NonAsciiHelo.Reply);
        }

        return new SmtpCommand { Verb = verb, Argument = Encoding.ASCII.GetString(args) };
    }

    private delegate bool PathParser(ReadOnlySpan<byte> inner, SmtpStringCache? strings, out string address, out bool utf8);

    private static SmtpCommand ParseMail(ReadOnlySpan<byte> args, SmtpStringCache? strings)
    {
        if (SplitPath(ref args, "FROM:"u8, TryParseReversePath, MailSyntax, BadSender, strings, out var address, out var utf8) is { } failure)
        {
            return SmtpCommand.Fail(SmtpVerb.Mail, failure);
        }

        var error = ParseMailParameters(args, out var size, out var body, out var smtpUtf8);
        if (error is not null)
        {
            return SmtpCommand.Fail(SmtpVerb.Mail, error.Value);
        }

        var raw = Text(args, strings);

        // The same parameter text always parses to the same values, so a repeated one reuses its record.
        var parameters = strings?.LastMailParameters is { } last && ReferenceEquals(last.Raw, raw)
            ? last
            : new MailParameters(size, body, smtpUtf8, raw);
        if (strings is not null)
        {
            strings.LastMailParameters = parameters;
        }

        return new SmtpCommand
        {
            Verb = SmtpVerb.Mail,
            Argument = address,
            PathIsUtf8 = utf8,
            Parameters = raw,
            Mail = parameters,
        };
    }

    private static SmtpCommand ParseRcpt(ReadOnlySpan<byte> args, SmtpStringCache? strings)
    {
        if (SplitPath(ref args, "TO:"u8, TryParseForwardPath, RcptSyntax, BadRecipient, strings, out var address, out var utf8) is { } failure)
        {
            return SmtpCommand.Fail(SmtpVerb.Rcpt, failure);
        }

        if (!args.IsEmpty)
        {
            // No RCPT extension (DSN and the like) is advertised, so any parameter is one we do not know.
            var error = CheckParameterSyntax(args, out var firstKeywordLength);
            return SmtpCommand.Fail(SmtpVerb.Rcpt, error ?? Unsupported(args[..firstKeywordLength]));
        }

        return new SmtpCommand { Verb = SmtpVerb.Rcpt, Argument = address, PathIsUtf8 = utf8, Parameters = string.Empty };
    }

    /// <summary>
    /// MAIL and RCPT share one shape (RFC 5321 §4.1.1.2, §4.1.1.3): "FROM:" or "TO:", a path in angle
    /// brackets, then space-separated parameters, which <paramref name="args"/> is left holding.
    /// Returns the reply for a malformed command, null when it parsed.
    /// </summary>
    private static SmtpReply? SplitPath(
        ref ReadOnlySpan<byte> args, ReadOnlySpan<byte> prefix, PathParser parsePath, SmtpReply syntax, SmtpReply badAddress,
        SmtpStringCache? strings, out string address, out bool utf8)
    {
        address = string.Empty;
        utf8 = false;
        if (!TryStripPrefix(ref args, prefix) || args.IsEmpty || args[0] != (byte)'<')
        {
            return syntax;
        }

        var pathEnd = FindPathEnd(args);
        if (pathEnd < 0)
        {
            return HasControl(args) ? badAddress : syntax;
        }

        var rest = args[(pathEnd + 1)..];
        if (!parsePath(args[1..pathEnd], strings, out address, out utf8))
        {
            return badAddress;
        }

        if (!rest.IsEmpty && rest[0] != (byte)' ')
        {
            return syntax;
        }

        args = TrimSpaces(rest);
        return null;
    }

    private static SmtpCommand ParseAuth(ReadOnlySpan<byte> args)
    {
        var space = args.IndexOf((byte)' ');
        var mechanism = space < 0 ? args : args[..space];
        var initial = space < 0 ? ReadOnlySpan<byte>.Empty : TrimSpaces(args[space..]);
        if (mechanism.IsEmpty || mechanism.Length > 20)
        {
            return SmtpCommand.Fail(SmtpVerb.Auth, AuthSyntax);
        }

        foreach (var b in mechanism)
        {
            if (!(IsAsciiLetterOrDigit(b) || b is (byte)'-' or (byte)'_'))
            {
                return SmtpCommand.Fail(SmtpVerb.Auth, AuthSyntax);
            }
        }

        foreach (var b in initial)
        {
            if (!(IsAsciiLetterOrDigit(b) || b is (byte)'+' or (byte)'/' or (byte)'='))
            {
                return SmtpCommand.Fail(SmtpVerb.Auth, AuthSyntax);
            }
        }

        return new SmtpCommand
        {
            Verb = SmtpVerb.Auth,
            Argument = Encoding.ASCII.GetString(mechanism).ToUpperInvariant(),
            Parameters = initial.IsEmpty ? null : Encoding.ASCII.GetString(initial),
        };
    }

    /// <summary>Index of the '&gt;' that closes the path at args[0], skipping quoted local parts; -1 if none or a control byte.</summary>
    private static int FindPathEnd(ReadOnlySpan<byte> args)
    {
        var quoted = false;
        for (var i = 1; i < args.Length; i++)
        {
            var b = args[i];
            if (b < 0x20 || b == 0x7F)
            {
                return -1;
            }

            if (quoted && b == (byte)'\\')
            {
                i++;
                if (i < args.Length && (args[i] < 0x20 || args[i] == 0x7F))
                {
                    return -1;
                }

                continue;
            }

            if (b == (byte)'"')
            {
                quoted = !quoted;
            }
            else if (!quoted && b == (byte)'>')
            {
                return i;
            }
        }

        return -1;
    }

    private static bool TryParseReversePath(ReadOnlySpan<byte> inner, SmtpStringCache? strings, out string address, out bool utf8)
    {
        if (inner.IsEmpty)
        {
            address = string.Empty;
            utf8 = false;
            return true;
        }

        return TryParseMailbox(inner, allowPostmaster: false, strings, out address, out utf8);
    }

    private static bool TryParseForwardPath(ReadOnlySpan<byte> inner, SmtpStringCache? strings, out string address, out bool utf8) =>
        TryParseMailbox(inner, allowPostmaster: true, strings, out address, out utf8);

    /// <summary>RFC 5321 4.1.2 Path: [A-d-l ":"] Mailbox, with RFC 6531 UTF-8 allowed in atoms and domains.</summary>
    private static bool TryParseMailbox(ReadOnlySpan<byte> inner, bool allowPostmaster, SmtpStringCache? strings, out string address, out bool utf8)
    {
        address = string.Empty;
        utf8 = false;
        if (inner.IsEmpty || inner.Length + 2 > MaxPathBytes || !Utf8.IsValid(inner))
        {
            return false;
        }

        // A source route (RFC 5321 4.1.2 A-d-l) must be accepted and SHOULD be ignored (appendix C).
        if (inner[0] == (byte)'@')
        {
            var colon = inner.IndexOf((byte)':');
            if (colon < 0 || !IsSourceRoute(inner[..colon]))
            {
                return false;
            }

            inner = inner[(colon + 1)..];
        }

        if (allowPostmaster && inner.Length == 10 && Ascii.EqualsIgnoreCase(inner, "postmaster"u8))
        {
            address = Encoding.ASCII.GetString(inner);
            return true;
        }

        int at;
        if (inner.Length > 0 && inner[0] == (byte)'"')
        {
            var close = FindQuoteEnd(inner);
            if (close < 0 || close + 1 >= inner.Length || inner[close + 1] != (byte)'@')
            {
                return false;
            }

            at = close + 1;
        }
        else
        {
            at = inner.IndexOf((byte)'@');
            if (at <= 0 || !IsDotString(inner[..at]))
            {
                return false;
            }
        }

        var domain = inner[(at + 1)..];
        if (at > MaxLocalPartBytes || !IsDomainOrLiteral(domain))
        {
            return false;
        }

        foreach (var b in inner)
        {
            if (b >= 0x80)
            {
                utf8 = true;
                break;
            }
        }

        address = Text(inner, strings);
        return true;
    }

    private static bool IsSourceRoute(ReadOnlySpan<byte> route)
    {
        foreach (var range in route.Split((byte)','))
        {
            var hop = route[range];
            if (hop.Length < 2 || hop[0] != (byte)'@' || !IsDomain(hop[1..]))
            {
                return false;
            }
        }

        return true;
    }

    private static int FindQuoteEnd(ReadOnlySpan<byte> s)
    {
        for (var i = 1; i < s.Length; i++)
        {
            var b = s[i];
            if (b == (byte)'\\')
            {
                // quoted-pairSMTP = '\' %d32-126
                if (i + 1 >= s.Length || s[i + 1] is < 32 or > 126)
                {
                    return -1;
                }

                i++;
            }
            else if (b == (byte)'"')
            {
                return i;
            }
            else if (b is < 32 or 127)
            {
                return -1;
            }
        }

        return -1;
    }

    private static bool IsDotString(ReadOnlySpan<byte> s)
    {
        if (s.IsEmpty || s[0] == (byte)'.' || s[^1] == (byte)'.')
        {
            return false;
        }

        var previousDot = false;
        foreach (var b in s)
        {
            if (b == (byte)'.')
            {
                if (previousDot)
                {
                    return false;
                }

                previousDot = true;
                continue;
            }

            previousDot = false;
            if (!IsAtext(b))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>RFC 5322 atext, plus UTF-8 bytes (RFC 6531 3.3).</summary>
    private static bool IsAtext(byte b) =>
        IsAsciiLetterOrDigit(b) || b >= 0x80 || "!#$%&'*+-/=?^_`{|}~"u8.Contains(b);

    private static bool IsDomainOrLiteral(ReadOnlySpan<byte> domain)
    {
        if (domain.Length > MaxDomainBytes || domain.IsEmpty)
        {
            return false;
        }

        if (domain[0] != (byte)'[')
        {
            return IsDomain(domain);
        }

        // address-literal: "[" dcontent "]"; the content is printable ASCII without brackets or backslash.
        if (domain.Length < 3 || domain[^1] != (byte)']')
        {
            return false;
        }

        foreach (var b in domain[1..^1])
        {
            if (b is < 33 or > 126 or (byte)'[' or (byte)']' or (byte)'\\')
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsDomain(ReadOnlySpan<byte> domain)
    {
        if (domain.IsEmpty || domain.Length > MaxDomainBytes)
        {
            return false;
        }

        foreach (var range in domain.Split((byte)'.'))
        {
            var label = domain[range];
            if (label.IsEmpty || label.Length > 63 || label[0] == (byte)'-' || label[^1] == (byte)'-')
            {
                return false;
            }

            foreach (var b in label)
            {
                if (!(IsAsciiLetterOrDigit(b) || b == (byte)'-' || b >= 0x80))
                {
                    return false;
                }
            }
        }

        return true;
    }

    private static SmtpReply? ParseMailParameters(ReadOnlySpan<byte> rest, out long? size, out string? body, out bool smtpUtf8)
    {
        size = null;
        body = null;
        smtpUtf8 = false;
        var syntax = CheckParameterSyntax(rest, out _);
        if (syntax is not null)
        {
            return syntax;
        }

        foreach (var range in rest.Split((byte)' '))
        {
            var parameter = rest[range];
            if (parameter.IsEmpty)
            {
                continue;
            }

            var equals = parameter.IndexOf((byte)'=');
            var keyword = equals < 0 ? parameter : parameter[..equals];
            var value = equals < 0 ? ReadOnlySpan<byte>.Empty : parameter[(equals + 1)..];
            if (Ascii.EqualsIgnoreCase(keyword, "SIZE"u8))
            {
                if (value.IsEmpty || value.Length > 20 || !IsAllDigits(value))
                {
                    return SizeSyntax;
                }

                // RFC 1870: an absurd size is still a size; clamp it rather than fail on overflow.
                size = value.Length > 18 ? long.MaxValue : long.Parse(value, provider: System.Globalization.CultureInfo.InvariantCulture);
            }
            else if (Ascii.EqualsIgnoreCase(keyword, "BODY"u8))
            {
                if (Ascii.EqualsIgnoreCase(value, "7BIT"u8))
                {
                    body = "7BIT";
                }
                else if (Ascii.EqualsIgnoreCase(value, "8BITMIME"u8))
                {
                    body = "8BITMIME";
                }
                else
                {
                    return BodySyntax;
                }
            }
            else if (Ascii.EqualsIgnoreCase(keyword, "SMTPUTF8"u8))
            {
                if (equals >= 0)
                {
                    return ParameterSyntax;
                }

                smtpUtf8 = true;
            }
            else if (!Ascii.EqualsIgnoreCase(keyword, "AUTH"u8))
            {
                // AUTH=<mailbox> (RFC 4954 5) is accepted as sent; anything else was never advertised.
                return Unsupported(keyword);
            }
        }

        return null;
    }

    /// <summary>RFC 5321 4.1.2 esmtp-param: keyword ["=" value], value without '=', space or control bytes.</summary>
    /// <param name="firstKeywordLength">The length of the first keyword, which starts <paramref name="rest"/> (no string: MAIL checks this on every command).</param>
    private static SmtpReply? CheckParameterSyntax(ReadOnlySpan<byte> rest, out int firstKeywordLength)
    {
        firstKeywordLength = -1;
        if (!Utf8.IsValid(rest))
        {
            return ParameterSyntax;
        }

        foreach (var range in rest.Split((byte)' '))
        {
            var parameter = rest[range];
            if (parameter.IsEmpty)
            {
                continue;
            }

            var equals = parameter.IndexOf((byte)'=');
            var keyword = equals < 0 ? parameter : parameter[..equals];
            if (keyword.IsEmpty || !IsAsciiLetterOrDigit(keyword[0]))
            {
                return ParameterSyntax;
            }

            foreach (var b in keyword)
            {
                if (!(IsAsciiLetterOrDigit(b) || b == (byte)'-'))
                {
                    return ParameterSyntax;
                }
            }

            if (equals >= 0)
            {
                var value = parameter[(equals + 1)..];
                if (value.IsEmpty)
                {
                    return ParameterSyntax;
                }

                foreach (var b in value)
                {
                    if (b < 33 || b == (byte)'=' || b == 0x7F)
                    {
                        return ParameterSyntax;
                    }
                }
            }

            if (firstKeywordLength < 0)
            {
                firstKeywordLength = keyword.Length;
            }
        }

        return null;
    }

    private static SmtpReply Unsupported(ReadOnlySpan<byte> keyword) => Unsupported(Encoding.ASCII.GetString(keyword));

    private static SmtpReply Unsupported(string keyword) => new(555, "5.5.4", $"Unsupported option: {keyword}");

    private static bool TryStripPrefix(ref ReadOnlySpan<byte> args, ReadOnlySpan<byte> prefix)
    {
        if (args.Length < prefix.Length || !Ascii.EqualsIgnoreCase(args[..prefix.Length], prefix))
        {
            return false;
        }

        // Postfix (strict_rfc821_envelopes = no) accepts "MAIL FROM: <a@b>"; so do many senders.
        args = TrimSpaces(args[prefix.Length..]);
        return true;
    }

    private static ReadOnlySpan<byte> TrimSpaces(ReadOnlySpan<byte> s) => s.Trim((byte)' ');

    /// <summary>Validated UTF-8 as a string, from the session's cache when it has one.</summary>
    private static string Text(ReadOnlySpan<byte> utf8, SmtpStringCache? strings) =>
        strings?.Get(utf8) ?? Encoding.UTF8.GetString(utf8);

    private static bool HasControl(ReadOnlySpan<byte> s)
    {
        foreach (var b in s)
        {
            if (b < 0x20 || b == 0x7F)
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsAllDigits(ReadOnlySpan<byte> s)
    {
        foreach (var b in s)
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsAsciiLetterOrDigit(byte b) => char.IsAsciiLetterOrDigit((char)b);
}
