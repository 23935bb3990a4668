"""Buckets of a `perf script` stack dump of the gateway: each sample goes to the first bucket
its stack matches, top to bottom, and the share times the run's CPU per message gives µs per
message. Used by tools/profile-gateway; the buckets are the ones docs/benchmarks.md reports.

    python3 tools/perf_buckets.py STACKS CPU_US_PER_MESSAGE
"""
import sys, collections
# samples: list of (comm, frames leaf->root)
samples=[]; cur=None
for line in open(sys.argv[1]):
    if not line.strip():
        if cur: samples.append(cur); cur=None
        continue
    if not line.startswith('\t') and not line.startswith(' '):
        cur=(line.split()[0], []); continue
    parts=line.strip().split(None,1)
    if cur and len(parts)==2: cur[1].append(parts[1])
if cur: samples.append(cur)
rules=[  # (bucket, predicate on joined stack) ; first match wins, checked in order
 ("writer: COMMIT (WAL write + fsync)", lambda s: 'writer_loop' in s and ('Transaction::commit' in s or 'execute_batch' in s and 'sqlite3VdbeHalt' in s and 'in_savepoint' not in s)),
 ("writer: accept", lambda s: 'lifecycle::accept::accept' in s),
 ("writer: claim (+hold)", lambda s: 'outbox::claim' in s),
 ("writer: complete (+capture)", lambda s: 'outbox::complete' in s),
 ("writer: status events", lambda s: 'status::apply' in s and 'writer_loop' in s),
 ("writer: other", lambda s: 'writer_loop' in s),
 ("reads (Store::read)", lambda s: 'switchboard_store::Store::read' in s or ('blocking' in s and 'rusqlite' in s)),
 ("plugin instantiate", lambda s: 'instantiate' in s and 'switchboard_runtime' in s),
 ("plugin teardown", lambda s: 'StoreOpaque' in s and 'drop' in s),
 ("plugin call (wasm)", lambda s: 'wasmtime' in s or 'JIT' in s),
 ("intake: phone parse", lambda s: 'normalize_recipient' in s),
 ("api: send handler (rest)", lambda s: 'messages::create' in s),
 ("callbacks handler (rest)", lambda s: 'webhooks::receive' in s),
 ("dispatch (rest, incl. HTTP client)", lambda s: 'Dispatcher::deliver' in s or 'hyper_util::client' in s or 'reqwest' in s),
 ("dispatch: claim loop", lambda s: 'Dispatcher::run' in s),
 ("HTTP server (hyper/axum, rest)", lambda s: 'hyper::' in s or 'axum::' in s),
 ("tokio scheduler / blocking pool", lambda s: 'tokio::runtime' in s),
]
cnt=collections.Counter()
for comm,fr in samples:
    s='\n'.join(fr)
    for name,p in rules:
        if p(s): cnt[name]+=1; break
    else: cnt['other ('+comm+')']+=1
tot=sum(cnt.values())
cpu=float(sys.argv[2]) if len(sys.argv)>2 else 0
for k,v in cnt.most_common(): print(f"{100*v/tot:5.1f}%  {cpu*v/tot:6.0f} µs  {k}")
print(tot)
