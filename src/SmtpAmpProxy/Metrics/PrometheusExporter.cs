using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace SmtpAmpProxy.Metrics;

/// <summary>
/// Aggregates the proxy's own meter with a <see cref="MeterListener"/> and renders it in the
/// Prometheus text exposition format 0.0.4: counters as <c>_total</c>, histograms as cumulative
/// <c>_bucket{le=…}</c> with <c>_sum</c> and <c>_count</c>, observable gauges read at scrape time.
/// Only the one <see cref="Meter"/> instance of this host is listened to, so several hosts in one
/// process (tests) never see each other's measurements.
/// </summary>
internal sealed class PrometheusExporter : IDisposable
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    // Prometheus client libraries' defaults, for a histogram that gives no bucket advice.
    private static readonly double[] DefaultBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<Instrument, Family> _families = new();
    private readonly Lock _scrape = new();

    public PrometheusExporter(ProxyMetrics metrics)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, metrics.Meter))
            {
                _families[instrument] = new Family(instrument);
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.MeasurementsCompleted = (instrument, state) => _families.TryRemove(instrument, out var _);
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>The whole exposition, observable instruments read now.</summary>
    public string Scrape()
    {
        var text = new StringBuilder();
        lock (_scrape)
        {
            _listener.RecordObservableInstruments();
            foreach (var family in _families.Values.OrderBy(f => f.Name, StringComparer.Ordinal))
            {
                family.WriteTo(text);
            }
        }

        return text.ToString();
    }

    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (_families.TryGetValue(instrument, out var family))
        {
            family.Record(value, tags);
        }
    }

    /// <summary>Lower-case letters, digits and underscores, the unit spelled out as Prometheus names it.</summary>
    internal static string PrometheusName(Instrument instrument)
    {
        var name = new StringBuilder(instrument.Name.Length + 16);
        foreach (var c in instrument.Name)
        {
            name.Append(char.IsAsciiLetterOrDigit(c) ? char.ToLowerInvariant(c) : '_');
        }

        var unit = instrument.Unit switch
        {
            "s" => "_seconds",
            "ms" => "_milliseconds",
            "By" => "_bytes",
            _ => "",
        };
        if (unit.Length > 0 && !name.ToString().EndsWith(unit, StringComparison.Ordinal))
        {
            name.Append(unit);
        }

        if (IsCounter(instrument) && !name.ToString().EndsWith("_total", StringComparison.Ordinal))
        {
            name.Append("_total");
        }

        return name.ToString();
    }

    private static bool IsCounter(Instrument instrument)
    {
        var type = instrument.GetType();
        return type.IsGenericType && type.GetGenericTypeDefinition() is var definition
            && (definition == typeof(Counter<>) || definition == typeof(ObservableCounter<>));
    }

    private static bool IsHistogram(Instrument instrument) =>
        instrument.GetType() is { IsGenericType: true } type && type.GetGenericTypeDefinition() == typeof(Histogram<>);

    /// <summary>Observable instruments report a current value (gauge) or a running total (counter): keep the last.</summary>
    private static bool ReportsCurrentValue(Instrument instrument) => instrument.IsObservable;

    internal static string Format(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf"
        : double.IsNegativeInfinity(value) ? "-Inf"
        : double.IsNaN(value) ? "NaN"
        : value.ToString("R", CultureInfo.InvariantCulture);

    private static string Escape(string value, bool quote) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal)
            .Replace("\n", "\\n", StringComparison.Ordinal)
            .Replace("\"", quote ? "\\\"" : "\"", StringComparison.Ordinal);

    /// <summary>Tags sorted by key, as <c>key="value"</c> pairs: one time series per distinct set.</summary>
    private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.IsEmpty)
        {
            return "";
        }

        var pairs = new List<KeyValuePair<string, object?>>(tags.Length);
        foreach (var tag in tags)
        {
            pairs.Add(tag);
        }

        pairs.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        return string.Join(",", pairs.Select(p =>
        {
            var key = new string([.. p.Key.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_')]);
            var value = Convert.ToString(p.Value, CultureInfo.InvariantCulture) ?? "";
            return $"{key}=\"{Escape(value, quote: true)}\"";
        }));
    }

    private sealed class Family(Instrument instrument)
    {
        private readonly ConcurrentDictionary<string, Series> _series = new(StringComparer.Ordinal);
        private readonly double[] _bounds = IsHistogram(instrument) ? Bounds(instrument) : [];

        public string Name { get; } = PrometheusName(instrument);

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var series = _series.GetOrAdd(Labels(tags), _ => new Series(_bounds.Length));
            series.Record(value, _bounds, ReportsCurrentValue(instrument));
        }

        public void WriteTo(StringBuilder text)
        {
            var type = IsHistogram(instrument) ? "histogram" : IsCounter(instrument) ? "counter" : "gauge";
            if (!string.IsNullOrEmpty(instrument.Description))
            {
                text.Append("# HELP ").Append(Name).Append(' ').Append(Escape(instrument.Description, quote: false)).Append('\n');
            }

            text.Append("# TYPE ").Append(Name).Append(' ').Append(type).Append('\n');

            // A family not measured yet shows one zero series, so rate() and alerts have it from the start.
            IEnumerable<KeyValuePair<string, Series>> all = _series.IsEmpty
                ? [new("", new Series(_bounds.Length))]
                : _series.OrderBy(s => s.Key, StringComparer.Ordinal);
            foreach (var (labels, series) in all)
            {
                if (type == "histogram")
                {
                    series.WriteHistogram(text, Name, labels, _bounds);
                }
                else
                {
                    Sample(text, Name, labels, series.Value);
                }
            }
        }

        private static double[] Bounds(Instrument instrument) =>
            [.. (instrument as Histogram<double>)?.Advice?.HistogramBucketBoundaries ?? DefaultBuckets];
    }

    private static void Sample(StringBuilder text, string name, string labels, double value)
    {
        text.Append(name);
        if (labels.Length > 0)
        {
            text.Append('{').Append(labels).Append('}');
        }

        text.Append(' ').Append(Format(value)).Append('\n');
    }

    private sealed class Series(int buckets)
    {
        private readonly Lock _lock = new();
        private readonly long[] _bucketCounts = new long[buckets];
        private double _value;
        private double _sum;
        private long _count;

        public double Value
        {
            get
            {
                lock (_lock)
                {
                    return _value;
                }
            }
        }

        public void Record(double value, double[] bounds, bool replace)
        {
            lock (_lock)
            {
                _value = replace ? value : _value + value;
                _sum += value;
                _count++;
                var bucket = Array.FindIndex(bounds, bound => value <= bound);
                if (bucket >= 0)
                {
                    _bucketCounts[bucket]++;
                }
            }
        }

        public void WriteHistogram(StringBuilder text, string name, string labels, double[] bounds)
        {
            long[] counts;
            double sum;
            long count;
            lock (_lock)
            {
                counts = (long[])_bucketCounts.Clone();
                sum = _sum;
                count = _count;
            }

            var prefix = labels.Length > 0 ? labels + "," : "";
            long cumulative = 0;
            for (var i = 0; i < bounds.Length; i++)
            {
                cumulative += counts[i];
                Sample(text, name + "_bucket", $"{prefix}le=\"{Format(bounds[i])}\"", cumulative);
            }

            Sample(text, name + "_bucket", $"{prefix}le=\"+Inf\"", count);
            Sample(text, name + "_sum", labels, sum);
            Sample(text, name + "_count", labels, count);
        }
    }
}
