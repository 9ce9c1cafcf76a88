using System.Net;

namespace SmtpAmpProxy.Upstream;

/// <summary>
/// How many upstream connections each client address holds now. One address may hold at most its share
/// of the pool, so a sender that opens many transactions and dawdles (or an attacker doing so on purpose)
/// cannot starve the others; past its share it is told at once to try later. A share as large as the pool
/// binds nothing the pool does not: then a client waits for the pool like everybody else.
/// </summary>
internal sealed class ClientShares(int perClient, int poolSize)
{
    private readonly Dictionary<IPAddress, int> _held = [];
    private readonly Lock _lock = new();

    public bool TryAcquire(IPAddress client)
    {
        if (perClient >= poolSize)
        {
            return true;
        }

        lock (_lock)
        {
            _held.TryGetValue(client, out var held);
            if (held >= perClient)
            {
                return false;
            }

            _held[client] = held + 1;
            return true;
        }
    }

    public void Release(IPAddress client)
    {
        if (perClient >= poolSize)
        {
            return;
        }

        lock (_lock)
        {
            if (_held.TryGetValue(client, out var held))
            {
                if (held <= 1)
                {
                    _held.Remove(client);
                }
                else
                {
                    _held[client] = held - 1;
                }
            }
        }
    }
}
