"""The chaos soak's verdicts and tables (soak.py runs the soak; this
judges what it gathered and prints it). Python 3 standard library only."""

import collections
import datetime
import re
import signal

MiB = 1 << 20


def pct(values, p):
    """Nearest-rank percentile of values (None when empty)."""
    if not values:
        return None
    v = sorted(values)
    return v[max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))]


def flat(samples, key, duration, rel, floor_abs):
    """Verdict on one series: after a warm-up of the first 20 %, the floor
    (minimum) of the last three samples against that of the first three,
    growth allowed: max(rel × first floor, floor_abs)."""
    vals = [s[key] for s in samples if s["t"] >= 0.2 * duration and s[key] is not None]
    if len(vals) < 2:
        return True, "too few samples to judge"
    k = max(1, min(3, len(vals) // 3))
    first, last = min(vals[:k]), min(vals[-k:])
    allowed = max(rel * first, floor_abs)
    ok = last - first <= allowed
    if key.endswith("rss") or key.endswith("rss_max"):
        return ok, (f"{first / MiB:.1f} -> {last / MiB:.1f} MiB "
                    f"({(last - first) / MiB:+.1f}, allowed {allowed / MiB:.1f})")
    return ok, f"{first} -> {last} (allowed +{allowed:.0f})"


def scan_log(text, killed):
    """What ferryd's log says: sanitizer reports, workers that died unasked,
    the top warnings and errors, the connections' problems."""
    sanitizer = [l for l in text.splitlines()
                 if "AddressSanitizer" in l or "LeakSanitizer" in l or "runtime error:" in l]
    deaths = []
    for m in re.finditer(r"^.*exited: pid (\d+) slot \d+ (killed by signal (\d+)|status (\d+)).*$",
                         text, re.M):
        line, pid = m.group(0), int(m.group(1))
        if "as the master asked" in line:
            continue
        if m.group(3) and int(m.group(3)) == signal.SIGKILL and pid in killed:
            continue
        if m.group(4) and int(m.group(4)) == 0:
            continue
        deaths.append(line)
    warn = collections.Counter()
    problems = collections.Counter()
    for line in text.splitlines():
        lv = re.search(r"\] (warn|error): (.*)$", line)
        if lv:
            msg = re.sub(r"\d+(\.\d+)?", "N", lv.group(2))
            msg = re.sub(r'"[^"]*"', '"..."', msg)
            warn[f"{lv.group(1)}: {msg}"[:110]] += 1
        p = re.search(r'problem="([^"]*)"', line)
        if p:
            problems[re.sub(r"\d+", "N", p.group(1))[:80]] += 1
    return sanitizer, deaths, warn.most_common(5), problems.most_common(5)


def with_log_lines(examples, text):
    """The examples as text, each with ferryd's log line for its client's
    port nearest in time (ports are reused within minutes)."""
    out = {}
    for kind, items in examples.items():
        out[kind] = []
        for msg, port, wall in items:
            best = None
            if port:
                for m in re.finditer(rf"^(\S+) \[\d+\] \w+: conn 127\.0\.0\.1:{port} .*$",
                                     text, re.M):
                    try:
                        t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ")
                        t = t.replace(tzinfo=datetime.timezone.utc).timestamp()
                    except ValueError:
                        continue
                    if best is None or abs(t - wall) < best[0]:
                        best = (abs(t - wall), m.group(0))
            out[kind].append(msg + (f" (client port {port})" if port else "")
                             + (f"\n      ferryd: {best[1]}" if best and best[0] < 30 else ""))
    return out


def results(run, samples, q0, q1, hung, running, rc, text, mounted):
    st, c = run.stats, run.stats.c
    d = run.args.duration
    sanitizer, deaths, warn, problems = scan_log(text, set(st.killed_pids))
    v = {}

    def verdict(name, ok, detail):
        v[name] = {"pass": bool(ok), "detail": detail}

    verdict("no corrupt download", c["corrupt"] == 0, f"{c['corrupt']} corrupt")
    verdict("the soak's record of every file matches the file", c["bookkeeping_errors"] == 0,
            f"{c['bookkeeping_errors']} mismatches (a bug in the soak, not in ferryd)")
    verdict("every failure explained", c["unexplained"] == 0,
            f"{c['unexplained']} failures with no SIGKILL and no truncate during them")
    if run.args.sanitized:
        # ASan keeps freed memory in quarantine (256 MiB) and maps shadow
        # as it goes: its RSS grows by design. Its leak check at exit and
        # the descriptors stand in.
        note = "not judged: a sanitizer build's RSS grows by design (quarantine)"
        verdict("master RSS flat", True, note)
    else:
        verdict("master RSS flat", *flat(samples, "master_rss", d, 0.10, 2 * MiB))
    # Fork mode: the master accepts, forks, then closes its copy, so under
    # load a sample most often finds one connection in its hands (watched
    # under ASan, where a fork is slow: a new socket at nearly every 0.3 s
    # sample). Iterative mode: the master serves, so a sample nearly always
    # finds a connection and the file it sends (CI saw 19 to 21). That is
    # what is allowed over; a leak shows in "descriptors when idle", which
    # is exact, and in a longer run.
    in_hand = {"fork": 1, "iterative": 2}.get(run.mode, 0)
    verdict("master descriptors flat", *flat(samples, "master_fds", d, 0, in_hand))
    if run.mode != "iterative":
        verdict("workers' max RSS flat", *((True, note) if run.args.sanitized else
                                           flat(samples, "workers_rss_max", d, 0.10, 2 * MiB)))
    if q0 is not None and q1 is not None:
        ok = q1[0] <= q0[0] and (not q1[1] or not q0[1] or max(q1[1]) <= max(q0[1]))
        verdict("descriptors when idle", ok,
                f"master {q0[0]} -> {q1[0]}, workers {q0[1]} -> {q1[1]}")
    else:
        verdict("descriptors when idle", False, f"no quiet moment: before {q0}, after {q1}")
    if run.mode in ("prefork", "event"):
        verdict("respawns in time", c["respawn_timeouts"] == 0,
                f"{len(st.respawn_ms)} timed, {c['respawn_timeouts']} not back within 15 s")
    verdict("no worker died unasked", not deaths, f"{len(deaths)} unasked deaths")
    bad_ops = c["resize.bad"] + c["reload.bad"] + c["chaos_errors"] + c["mutation_errors"] \
        + c["admin_errors"]
    verdict("every chaos operation answered as documented", bad_ops == 0, f"{bad_ops} wrong")
    if mounted:
        dbad = c["diskfull.bad"] + c["diskfull.leftovers"] + c["diskfull.corrupt"]
        verdict("disk full: clear error, no leftovers", dbad == 0 and c["diskfull.enospc_ok"] > 0,
                f"{c['diskfull.enospc_ok']} ENOSPC clean, {dbad} wrong")
    verdict("ferry client: message on failure, no leftovers",
            c["ferry_silent_failure"] + c["ferry_leftovers"] == 0,
            f"{c['ferry_silent_failure']} silent, {c['ferry_leftovers']} leftovers")
    verdict("no client thread hung", not hung, ", ".join(hung) or "all joined")
    verdict("ferryd running at the end", running, "running" if running else "it had exited")
    verdict("ferryd exits 0 on SIGTERM", rc == 0, f"exit {rc}")
    verdict("no sanitizer report", not sanitizer, f"{len(sanitizer)} lines")
    ms = st.respawn_ms
    return {
        "downloads": {"ok": c["ok"], "failed": c["failed"], "corrupt": c["corrupt"],
                      "failed_kill": c["failed_kill"], "failed_truncate": c["failed_truncate"],
                      "unexplained": c["unexplained"], "ok_during_append": c["ok_during_append"],
                      "keepalive_retries": c["keepalive_retries"],
                      "bytes": c["bytes"],
                      "by_protocol": {p: {"ok": c[f"{p}.ok"], "failed": c[f"{p}.failed"],
                                          "time_p50_ms": ms_pct(st.times[p], 50),
                                          "time_p99_ms": ms_pct(st.times[p], 99),
                                          "time_max_ms": ms_pct(st.times[p], 100)}
                                      for p in ("native", "http", "ferry")},
                      "reasons": st.reasons.most_common(5)},
        "respawn": {"count": len(ms), "p50_ms": pct(ms, 50), "p99_ms": pct(ms, 99),
                    "max_ms": max(ms, default=None), "timeouts": c["respawn_timeouts"]},
        "kills": c["kills"],
        "resizes": {k: c[f"resize.{k}"] for k in ("up", "down", "same", "busy", "refused", "bad")},
        "reloads": {k: c[f"reload.{k}"] for k in ("ok", "verified", "busy", "unsupported", "bad")},
        "hups": c["hups"],
        "mutations": dict(run.corpus.counts),
        "diskfull": ({k: c[f"diskfull.{k}"] for k in ("enospc_ok", "fit_ok", "other_failure", "bad",
                                                      "leftovers", "corrupt")}
                     if mounted else None),
        "samples": samples,
        "quiet_fds": {"before": q0, "after": q1},
        "ferryd": {"running_at_end": running, "exit_code": rc, "sanitizer": sanitizer[:5],
                   "unasked_deaths": deaths[:10], "log_warnings": warn, "log_problems": problems},
        "examples": with_log_lines(st.examples, text),
        "verdicts": v,
        "pass": all(x["pass"] for x in v.values()),
    }


def ms_pct(seconds, p):
    x = pct(seconds, p)
    return None if x is None else round(x * 1000, 1)


def fmt_ms(x):
    return "-" if x is None else f"{x:.0f}" if x >= 10 else f"{x:.1f}"


def report(r):
    """The per-mode table, on stdout."""
    d = r["downloads"]
    rows = [("downloads ok / failed / corrupt", f"{d['ok']} / {d['failed']} / {d['corrupt']}")]
    bp = d["by_protocol"]
    rows.append(("  by protocol (ok/failed)", "  ".join(
        f"{p} {bp[p]['ok']}/{bp[p]['failed']}" for p in ("native", "http", "ferry"))))
    rows.append(("  download time p50/p99/max ms", "  ".join(
        f"{p} {fmt_ms(bp[p]['time_p50_ms'])}/{fmt_ms(bp[p]['time_p99_ms'])}/"
        f"{fmt_ms(bp[p]['time_max_ms'])}" for p in ("native", "http", "ferry"))))
    rows.append(("  failures: kill / truncate / unexplained",
                 f"{d['failed_kill']} / {d['failed_truncate']} / {d['unexplained']}"))
    rows.append(("  data verified", f"{d['bytes'] / MiB:.0f} MiB "
                 f"({d['ok_during_append']} ok mid-append, {d['keepalive_retries']} keep-alive retries)"))
    for reason, n in d["reasons"]:
        rows.append(("  reason", f"{n:6d}  {reason}"))
    rs = r["respawn"]
    if r["mode"] in ("prefork", "event"):
        rows.append(("SIGKILLs, respawn p50/p99/max ms",
                     f"{r['kills']}, {fmt_ms(rs['p50_ms'])} / {fmt_ms(rs['p99_ms'])} / "
                     f"{fmt_ms(rs['max_ms'])} ({rs['count']} timed, {rs['timeouts']} late)"))
    elif r["mode"] == "fork":
        rows.append(("SIGKILLs (children; not respawned)", str(r["kills"])))
    else:
        rows.append(("SIGKILLs", "none: iterative has no worker"))
    z = r["resizes"]
    rows.append(("resizes up/down/same, busy, refused, wrong",
                 f"{z['up']}/{z['down']}/{z['same']}, {z['busy']}, {z['refused']}, {z['bad']}"))
    z = r["reloads"]
    rows.append(("reloads ok (verified), busy, unsupported, wrong",
                 f"{z['ok']} ({z['verified']}), {z['busy']}, {z['unsupported']}, {z['bad']}"))
    rows.append(("SIGHUPs", str(r["hups"])))
    m = r["mutations"]
    rows.append(("mutations replace/grow/truncate",
                 f"{m.get('replace', 0)}/{m.get('grow', 0)}/{m.get('truncate', 0)}"))
    df = r["diskfull"]
    rows.append(("disk full: ENOSPC clean / fit ok / wrong",
                 "skipped (not root)" if df is None else
                 f"{df['enospc_ok']} / {df['fit_ok']} / {df['bad'] + df['leftovers'] + df['corrupt']}"))
    fd = r["ferryd"]
    rows.append(("ferryd at the end", f"{'running' if fd['running_at_end'] else 'DEAD'}, "
                 f"SIGTERM -> exit {fd['exit_code']}"))
    for msg, n in fd["log_warnings"]:
        rows.append(("  log", f"{n:6d}  {msg}"))
    for msg, n in fd["log_problems"]:
        rows.append(("  problem=", f"{n:6d}  {msg}"))
    w = max(len(a) for a, _ in rows)
    print(f"\n== {r['mode']}: {r['duration_s']} s, {r['clients']} clients, seed {r['seed']}")
    for a, b in rows:
        print(f"{a:<{w}}  {b}")
    print_samples(r["samples"], r["duration_s"])
    for name, x in r["verdicts"].items():
        print(f"{'PASS' if x['pass'] else 'FAIL'}  {name}: {x['detail']}")
    for kind, ex in r["examples"].items():
        for e in ex[:5]:
            print(f"  {kind}: {e}")
    for line in fd["unasked_deaths"] + fd["sanitizer"]:
        print(f"  ferryd: {line}")
    print(f"== {r['mode']}: {'PASS' if r['pass'] else 'FAIL'}")


def print_samples(samples, duration):
    """RSS and descriptors over time: the first sample, the end of the
    warm-up, the middle, the last; min and max."""
    if not samples:
        return
    warm = next((s for s in samples if s["t"] >= 0.2 * duration), samples[-1])
    picks = [("first", samples[0]), ("warm-up", warm), ("middle", samples[len(samples) // 2]),
             ("last", samples[-1])]
    keys = [("master RSS MiB", "master_rss", MiB), ("master fds", "master_fds", 1),
            ("workers", "workers", 1), ("workers RSS sum MiB", "workers_rss_sum", MiB),
            ("workers RSS max MiB", "workers_rss_max", MiB),
            ("workers fds sum", "workers_fds_sum", 1), ("workers fds max", "workers_fds_max", 1)]

    def f(x, div):
        return "-" if x is None else f"{x / div:.1f}" if div > 1 else str(x)

    head = ["t (s)"] + [f"{n} {s['t']:.0f}" for n, s in picks] + ["min", "max"]
    lines = [head]
    for label, k, div in keys:
        vals = [s[k] for s in samples if s[k] is not None]
        lines.append([label] + [f(s[k], div) for _, s in picks]
                     + [f(min(vals, default=None), div), f(max(vals, default=None), div)])
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    print(f"samples: {len(samples)}, every ~{max(1.0, min(5.0, duration / 12)):.1f} s "
          f"(workers: all live ones at each sample, summed and the largest)")
    for row in lines:
        print("  " + "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                               enumerate(zip(row, widths))))


def summary(results):
    """One markdown table, a column per mode (for docs/BENCHMARKS.md)."""
    modes = [r["mode"] for r in results]
    print("\n| | " + " | ".join(modes) + " |")
    print("|---|" + "---:|" * len(modes))

    def row(label, fn):
        print(f"| {label} | " + " | ".join(fn(r) for r in results) + " |")

    row("downloads ok", lambda r: str(r["downloads"]["ok"]))
    row("failed, clear error", lambda r: str(r["downloads"]["failed"]))
    row("  of which unexplained", lambda r: str(r["downloads"]["unexplained"]))
    row("corrupt", lambda r: str(r["downloads"]["corrupt"]))
    row("MiB verified", lambda r: f"{r['downloads']['bytes'] / MiB:.0f}")
    row("SIGKILLs", lambda r: str(r["kills"]))
    row("respawn p50 / p99 / max ms", lambda r: "-" if not r["respawn"]["count"] else
        f"{fmt_ms(r['respawn']['p50_ms'])} / {fmt_ms(r['respawn']['p99_ms'])} / "
        f"{fmt_ms(r['respawn']['max_ms'])}")
    row("resizes (busy)", lambda r: "refused" if r["resizes"]["refused"] else
        f"{r['resizes']['up'] + r['resizes']['down'] + r['resizes']['same']} ({r['resizes']['busy']})")
    row("reloads verified (busy)", lambda r: "unsupported" if r["reloads"]["unsupported"] else
        f"{r['reloads']['verified']} ({r['reloads']['busy']})")
    row("SIGHUPs", lambda r: str(r["hups"]))
    row("replace / grow / truncate", lambda r: "/".join(
        str(r["mutations"].get(k, 0)) for k in ("replace", "grow", "truncate")))
    row("disk full: ENOSPC clean / fit ok", lambda r: "skipped" if r["diskfull"] is None else
        f"{r['diskfull']['enospc_ok']} / {r['diskfull']['fit_ok']}")

    def series(r, k, div):
        vals = [s[k] for s in r["samples"] if s[k] is not None and s["t"] >= 0.2 * r["duration_s"]]
        if not vals:
            return "-"
        a, b = vals[0], vals[-1]
        return f"{a / div:.1f} → {b / div:.1f}" if div > 1 else f"{a} → {b}"

    row("master RSS MiB (after warm-up → end)", lambda r: series(r, "master_rss", MiB))
    row("master fds", lambda r: series(r, "master_fds", 1))
    row("workers' max RSS MiB", lambda r: series(r, "workers_rss_max", MiB))
    row("verdicts", lambda r: "PASS" if r["pass"] else "FAIL: " + ", ".join(
        k for k, x in r["verdicts"].items() if not x["pass"]))
