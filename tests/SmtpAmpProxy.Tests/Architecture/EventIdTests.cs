using System.Reflection;
using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Logging;
using SmtpAmpProxy.Queue;
using SmtpAmpProxy.Smtp;

namespace SmtpAmpProxy.Tests.Architecture;

/// <summary>
/// Operators filter the logs by event id, so an id names one event across the whole project: every
/// <c>[LoggerMessage]</c> method in the three assemblies that log, against the tables that define the ids.
/// </summary>
public sealed class EventIdTests
{
    private static readonly Type[] Tables = [typeof(SmtpEventIds), typeof(QueueEventIds), typeof(EventIds)];

    [Fact]
    public void LogMethods_AcrossTheProject_NoTwoShareAnEventId()
    {
        var methods = LogMethods();

        Assert.True(methods.Count >= 80, $"only {methods.Count} log methods found");
        var shared = methods.GroupBy(m => m.Id).Where(g => g.Count() > 1)
            .Select(g => $"{g.Key}: {string.Join(", ", g.Select(m => m.Name))}");
        Assert.Empty(shared);
    }

    [Fact]
    public void EventIdTables_NoTwoEntriesShareAnId()
    {
        var shared = TableEntries().GroupBy(e => e.Id).Where(g => g.Count() > 1)
            .Select(g => $"{g.Key}: {string.Join(", ", g.Select(e => e.Name))}");

        Assert.Empty(shared);
    }

    [Fact]
    public void LogMethods_EachTakesItsIdFromTheTableEntryOfItsName_AndNoEntryIsUnused()
    {
        var entries = TableEntries();
        var methods = LogMethods();

        // A method's id is the entry named after it (Table.Section.Method): a literal id would not match one.
        var strays = methods.Where(m => !entries.Any(e => e.Id == m.Id && e.Name.EndsWith("." + m.Method, StringComparison.Ordinal)))
            .Select(m => $"{m.Name} ({m.Id})");
        Assert.Empty(strays);

        var unused = entries.Where(e => !methods.Any(m => m.Id == e.Id)).Select(e => e.Name);
        Assert.Empty(unused);
    }

    private static List<(int Id, string Name, string Method)> LogMethods() =>
        [.. Tables.Select(t => t.Assembly)
            .SelectMany(a => a.GetTypes())
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(x => x.Attribute is not null)
            .Select(x => (x.Attribute!.EventId, $"{x.Method.DeclaringType!.Name}.{x.Method.Name}", x.Method.Name))];

    private static List<(int Id, string Name)> TableEntries() =>
        [.. Tables.SelectMany(table => table.GetNestedTypes().Prepend(table))
            .SelectMany(section => section.GetFields(BindingFlags.Public | BindingFlags.Static)
                .Where(f => f.IsLiteral && f.FieldType == typeof(int))
                .Select(f => ((int)f.GetRawConstantValue()!, $"{section.FullName!.Replace('+', '.')}.{f.Name}")))];
}
