"""`make bench`: every benchmark in one run, printed side by side with its target.

Needs PostgreSQL (ATRIUM_BENCH_DATABASE_URL, default the local `test` database); it
works in its own schema, `atrium_bench` (ATRIUM_BENCH_SCHEMA: another prefix), dropped and recreated by each benchmark (client
search in `atrium_bench_clients`). `--only SECTION` (repeatable) runs a subset, e.g.
`python -m bench --only http`.
"""

from __future__ import annotations

import argparse
import logging
import os

from . import (
    client_crypto,
    client_import,
    client_search,
    end_to_end,
    engine_rate,
    faults,
    health_bench,
    http_api,
    long_lived,
    reports_bench,
    timer_lateness,
    web_app,
)
from .common import database_url

SECTIONS = (
    "engine",
    "timers",
    "long",
    "http",
    "inbox",
    "client-search",
    "encryption",
    "import",
    "reports",
    "web",
    "health",
    "e2e",
    "faults",
)


def _line(label: str, value: str, target: str = "", ok: bool | None = None) -> None:
    verdict = "" if ok is None else ("  ok" if ok else "  MISSED")
    print(f"  {label:<46} {value:>16}   {target}{verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        metavar="SECTION",
        help=f"run only this section; repeatable; one of: {', '.join(SECTIONS)}",
    )
    args = parser.parse_args()
    sections = set(args.only or SECTIONS)
    logging.basicConfig(level=logging.WARNING)
    n, timers, iterations = (200, 1000, 100) if args.quick else (1000, 10_000, 1000)
    tasks_total = 100_000 if args.quick else 1_000_000
    print(f"Atrium benchmarks on {database_url().split('@')[-1]}{' (quick)' if args.quick else ''}\n")

    rate = _engine_rate(n) if "engine" in sections else None
    if "timers" in sections:
        _timer_lateness(timers)
    if "long" in sections:
        _long_lived(iterations)
    if "http" in sections:
        _http_rate(rate, seconds=10 if args.quick else 30)
    if "inbox" in sections:
        _inbox_latency(tasks_total)
    if "client-search" in sections:
        _client_search(20_000 if args.quick else 100_000, per_kind=30 if args.quick else 60)
    if "encryption" in sections:
        _client_crypto(500 if args.quick else 2000)
    if "import" in sections:
        _client_import(200 if args.quick else 1000)
    if "reports" in sections:
        _reports(20_000 if args.quick else 100_000, 200_000 if args.quick else 1_000_000)
    if "web" in sections:
        _web_app(rounds=3 if args.quick else 7)
    if "health" in sections:
        _health(20_000 if args.quick else 100_000)
    if "e2e" in sections:
        _end_to_end(seconds=10 if args.quick else 30)
    if "faults" in sections:
        _faults(load_seconds=30 if args.quick else 60)


def _engine_rate(n: int) -> dict:
    print(f"Engine rate: flow `bench_review` (start, user task, script, gateway, user task), {n} instances")
    rate = engine_rate.run(n)
    _line(
        "in-process (SpiffWorkflow, no persistence)",
        f"{rate['in_process_per_s']:.0f} inst/s",
        "scripts in the sandbox's worker processes",
    )
    _line(
        "in-process, scripts run in the server",
        f"{rate['in_process_unsandboxed_per_s']:.0f} inst/s",
        "(no sandbox: the cost reference only)",
    )
    _line("ratio sandboxed / scripts in the server", f"{rate['sandbox_ratio']:.1%}")
    _line(
        "one expression through a worker (round trip)",
        f"{rate['script_call_us']:.0f} us",
        f"(`len(note) > score`; {rate['script_call_unsandboxed_us']:.0f} us run in the server)",
    )
    _line("one plain condition (answered in the server)", f"{rate['plain_condition_us']:.1f} us", "(`score > 100`)")
    _line("persisted through engine/ on PostgreSQL", f"{rate['persisted_per_s']:.0f} inst/s")
    _line("ratio persisted / in-process", f"{rate['ratio']:.1%}", "target >= 40%", rate["ratio"] >= 0.40)
    _line(
        "floor: the same 3 commits in raw SQL, no engine",
        f"{rate['durable_floor_per_s']:.0f} inst/s",
        f"(= {rate['floor_ratio']:.0%} of in-process: the most any durable engine could reach)",
    )
    _line(
        "stored state, waiting at a user task (max)",
        f"{rate['state_bytes_waiting_max']} B",
        "target <= 4096 B",
        rate["state_bytes_waiting_max"] <= 4096,
    )
    _line("stored state, completed instance (mean)", f"{rate['state_bytes_completed_avg']:.0f} B")
    return rate


def _timer_lateness(timers: int) -> None:
    print(f"\nTimer lateness: {timers} timers due within one minute, 2 scheduler processes")
    late = timer_lateness.run(timers)
    _line("p50 lateness", f"{late['p50_late_s']:.3f} s")
    _line("p99 lateness", f"{late['p99_late_s']:.3f} s", "target < 5 s", late["p99_late_s"] < 5)
    _line("max lateness", f"{late['max_late_s']:.3f} s")
    _line(
        "fired / fired twice / not fired",
        f"{late['fired']} / {late['fired_twice']} / {late['not_fired']}",
        "target: none twice",
        late["fired_twice"] == 0 and late["not_fired"] == 0,
    )
    _line(
        "instances created before the window opened",
        str(late["created_before_window"]),
        f"(creation took {late['creation_s']:.0f} s)",
    )


def _long_lived(iterations: int) -> None:
    print(f"\nLong-lived instance: user task + timer loop, {iterations} iterations")
    samples = long_lived.run(iterations, (10, iterations))
    first, last = samples[10], samples[iterations]
    _line("complete-task step at iteration 10", f"{first['complete_ms']:.1f} ms")
    _line(f"complete-task step at iteration {iterations}", f"{last['complete_ms']:.1f} ms")
    _line("timer step at iteration 10", f"{first['timer_ms']:.1f} ms")
    _line(f"timer step at iteration {iterations}", f"{last['timer_ms']:.1f} ms")
    _line("stored state at iteration 10", f"{first['state_bytes']} B")
    _line(
        f"stored state at iteration {iterations}",
        f"{last['state_bytes']} B",
        "target: no growth",
        last["state_bytes"] <= first["state_bytes"] * 1.1,
    )
    _line(f"history rows at iteration {iterations}", f"{last['history_rows']}")
    _line("step loaded cold from the database", f"{samples['cold_step_ms']:.1f} ms")


def _http_rate(rate: dict | None, seconds: float) -> None:
    print("\nHTTP API, `atrium serve` (2 workers x 4 threads) on PostgreSQL")
    e2e = http_api.end_to_end_rate(clients=8, seconds=seconds)
    _line(
        "end to end, 8 clients (start + 2 completions)",
        f"{e2e['instances_per_s']:.0f} inst/s",
        "target >= 100 inst/s",
        e2e["instances_per_s"] >= 100,
    )
    if rate is not None:
        _line("in-process engine rate, same flow (above)", f"{rate['in_process_per_s']:.0f} inst/s")
    _line("failed requests", str(e2e["errors"]))
    split = e2e["cpu_ms_per_instance"]
    if split:
        parts = ", ".join(f"{key} {ms:.1f}" for key, ms in split.items())
        _line(
            "CPU ms per instance",
            f"{sum(split.values()):.1f}",
            f"({parts}; {e2e['cpus']} cores give {e2e['cpus'] * 10} ms per instance at 100 inst/s)",
        )


def _inbox_latency(tasks_total: int) -> None:
    inbox = http_api.inbox_latency(tasks_total, tasks_total // 10)
    print(
        f"  inbox: GET /api/tasks?candidate_user=me&sort=due&page_size=50, {inbox['rows']:,} task rows, "
        f"{inbox['open']:,} open, {inbox['matching']:,} offered to the caller"
    )
    _line("inbox p50", f"{inbox['p50_ms']:.1f} ms")
    _line("inbox p95", f"{inbox['p95_ms']:.1f} ms", "target <= 20 ms", inbox["p95_ms"] <= 20)


def _client_search(n: int, per_kind: int) -> None:
    print(f"Client search: GET /api/clients (page_size 50, with total), {n:,} clients, through the Flask app")
    result = client_search.run(n, per_kind=per_kind)
    print(
        f"  (loaded in {result['load_s']:.0f} s; p50 / p95 per kind, request in and response out; matches: the "
        f"median `total`; load average during the run {result['load_average']:.1f} on {result['cpus']} CPUs)"
    )
    for kind, figures in result["kinds"].items():
        _line(
            kind,
            f"{figures['p50_ms']:.1f} / {figures['p95_ms']:.1f} ms",
            f"target p95 < {client_search.TARGET_MS} ms, matches ~{figures['median_total']:,}",
            figures["p95_ms"] < client_search.TARGET_MS,
        )


def _client_crypto(n: int) -> None:
    print(
        f"\nEncryption at rest: clients' phones, emails, addresses, notes and custom fields (AES-GCM, envelope keys), {n:,} clients"
    )
    result = client_crypto.run(n)
    _line(
        "encrypt one field / decrypt one field",
        f"{result['encrypt_value_us']:.1f} / {result['decrypt_value_us']:.1f} us",
    )
    _line("wrap / unwrap a data key", f"{result['wrap_us']:.1f} / {result['unwrap_us']:.1f} us")
    _line("blind indexes of a client (HMAC)", f"{result['blind_indexes_us']:.1f} us")
    print(
        "  with encryption as it runs / without it (the same, less the time measured inside storage.crypto: "
        "AES-GCM, key wrapping, keyed hashes, loading data keys) / ratio"
    )
    rows = [
        (
            f"{what} a client through the ORM (PostgreSQL)",
            result[f"{what}_ms_per_client"],
            result[f"{what}_crypto_ms_per_client"],
        )
        for what in ("create", "read")
    ]
    rows += [
        (f"search by {kind} (page of 50, fields read)", s["ms"], s["crypto_ms"]) for kind, s in result["search"].items()
    ]
    for label, whole, crypto_ms in rows:
        plain = whole - crypto_ms
        _line(label, f"{whole:.2f} / {plain:.2f} ms", f"x{whole / plain:.2f} ({crypto_ms / whole:.0%} in encryption)")


def _reports(clients: int, tasks: int) -> None:
    print(f"\nReports: October's statistics and the monthly PDF, {clients:,} clients, {tasks:,} tasks")
    result = reports_bench.run(clients, tasks)
    print(f"  (loaded in {result['load_s']:.0f} s; best of 3 per statistic)")
    for name, seconds in result["statistics_s"].items():
        _line(name, f"{seconds * 1000:.0f} ms", "target < 1 s", seconds < 1)
    _line("monthly client report, statistics + PDF", f"{result['pdf_s']:.2f} s", "target < 5 s", result["pdf_s"] < 5)


def _health(clients: int) -> None:
    print(f"\nClient health: the deployed client_health table over {clients:,} clients (best of 3 per query)")
    result = health_bench.run(clients)
    print(f"  (loaded in {result['load_s']:.0f} s; bands now: {result['bands']})")
    _line(
        f"full recompute ({result['scored']:,} active clients scored)",
        f"{result['recompute_s']:.2f} s",
        f"target < 60 s (x{result['recompute_s'] / 60:.2f})",
        result["recompute_s"] < 60,
    )
    for label, seconds in result["timings"].items():
        _line(label, f"{seconds * 1000:.0f} ms", f"target < 1 s (x{seconds:.2f})", seconds < 1)


def _client_import(rows: int) -> None:
    print(f"\nClient import: POST /api/clients/import of {rows:,} generated clients, best of 3 files each")
    result = client_import.run(rows)
    _line("prospects (an audit row each)", f"{result['prospect_ms_per_row']:.2f} ms/row")
    _line("active (audit row + follow-up cycle started)", f"{result['active_ms_per_row']:.2f} ms/row")
    _line("ratio active / prospects", f"{result['ratio']:.1f}x", "(the cost of starting each cycle in the import)")
    print(f"  (load average {result['load_average']:.1f} while it ran)")


def _web_app(rounds: int) -> None:
    print("\nWeb app: the build in web/dist (gzip -9 sizes) and the inbox in headless Chromium")
    sizes = web_app.bundle_sizes()
    _line(
        "first screen JavaScript (inbox, signed in)",
        f"{sizes['first_js_kb']:.0f} KB",
        f"target <= {sizes['budget_kb']} KB ({sizes['first_chunks']} chunks)",
        sizes["first_js_kb"] <= sizes["budget_kb"],
    )
    _line("first screen CSS", f"{sizes['first_css_kb']:.1f} KB")
    lazy = sorted(sizes["lazy"].items(), key=lambda item: -item[1])
    for name, kb in lazy[:6]:
        _line(f"  on demand: {name}", f"{kb:.0f} KB")
    _line(f"  on demand: {len(lazy) - 6} smaller chunks", f"{sum(kb for _, kb in lazy[6:]):.0f} KB")
    _line("all JavaScript", f"{sizes['total_js_kb']:.0f} KB", "(what a person downloads who opens every screen)")
    render = web_app.inbox_render(rounds=rounds)
    print(
        f"  navigation to a rendered inbox of 50 rows, {render['open']:,} open tasks "
        f"({render['rows_shown']} rows shown; database loaded in {render['load_s']:.0f} s)"
    )
    _line(
        "warm cache, p50 / max",
        f"{render['warm_p50_ms']:.0f} / {render['warm_max_ms']:.0f} ms",
        "target < 1000 ms",
        render["warm_max_ms"] < 1000,
    )
    _line(
        "cold cache (every file downloaded), p50 / max",
        f"{render['cold_p50_ms']:.0f} / {render['cold_max_ms']:.0f} ms",
        "target < 1000 ms",
        render["cold_max_ms"] < 1000,
    )


def _end_to_end(seconds: float) -> None:
    print(
        "\nEnd to end: 8 client processes, `atrium serve` (2 workers x 4 threads, scheduler on) on PostgreSQL;"
        "\n  per instance: start, list its task, complete it, list the next, complete it (bench_two_steps)"
    )
    result = end_to_end.run(seconds=seconds)
    one, three, floor = result["one_node"], result["three_nodes"], result["floor"]
    _line("1 node", f"{one['instances_per_s']:.0f} inst/s", "target >= 150 inst/s", one["instances_per_s"] >= 150)
    _line(
        "3 nodes (clients spread over their ports)",
        f"{three['instances_per_s']:.0f} inst/s",
        "target >= 150 inst/s",
        three["instances_per_s"] >= 150,
    )
    _line("floor: the same SQL, minimal WSGI app", f"{floor['instances_per_s']:.0f} inst/s", "(same gunicorn settings)")
    _line("ratio 1 node / floor", f"{result['ratio_one_node_floor']:.0%}")
    _line("ratio 3 nodes / floor", f"{result['ratio_three_nodes_floor']:.0%}")
    _line("in-process engine rate, same flow", f"{result['in_process_per_s']:.0f} inst/s", "(SpiffWorkflow only)")
    _line("SQL statements per request", " / ".join(map(str, result["statements_per_request"])))
    _line("failed requests (1 node / 3 nodes / floor)", f"{one['errors']} / {three['errors']} / {floor['errors']}")
    for label, run in (("1 node", one), ("3 nodes", three), ("floor", floor)):
        cpu = run["cpu_ms_per_instance"]
        _line(
            f"CPU ms per instance, {label}",
            f"{cpu['server']:.1f} + {cpu['postgres']:.1f}",
            f"(server + PostgreSQL; load average {run['load_average']:.1f})",
        )
    print(f"  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs at the end)")


def _faults(load_seconds: float) -> None:
    print(
        f"\nFaults: 3 nodes (--no-scheduler) + 2 `atrium scheduler` behind a round-robin proxy, {load_seconds:.0f} s of"
        "\n  load (bench_timed_task: task, PT2S timer, task); a node and a scheduler SIGKILLed, PostgreSQL restarted"
    )
    r = faults.run(load_seconds=load_seconds)
    for at, what in r["events"]:
        print(f"  t={at:>5.1f} s  {what}")
    _line("instances started by the clients", str(r["started_by_clients"]))
    _line("completed", str(r["completed"]), "target: all", r["completed"] == r["started_by_clients"])
    _line(
        "timers fired exactly once",
        str(r["timer_fired_once"]),
        f"twice: {len(r['timer_fired_twice'])}, not fired: {len(r['timer_not_fired'])}",
        not r["timer_fired_twice"] and not r["timer_not_fired"],
    )
    _line(
        "instances misplaced / unknown",
        f"{len(r['misplaced'])} / {len(r['unknown_instances'])}",
        "target 0",
        not r["misplaced"] and not r["unknown_instances"],
    )
    _line(
        "duplicate starts (retried after commit)",
        str(r["duplicate_starts"]),
        f"{r['duplicates_waiting_at_first_task']} waiting at their first task (starts carry an Idempotency-Key)",
    )
    _line(
        "5xx outside the database restart",
        str(len(r["server_errors_outside_db_restart"])),
        "target 0",
        not r["server_errors_outside_db_restart"],
    )
    _line(
        "retried requests / succeeded",
        f"{r['retried_requests']} / {r['retried_succeeded']}",
        f"gave up: {len(r['gave_up'])}",
        not r["gave_up"],
    )
    _line("responses", ", ".join(f"{k}: {v}" for k, v in sorted(r["responses"].items(), key=str)))
    _line("processes alive at the end", str(sum(r["alive_at_end"].values())), f"of {len(r['alive_at_end'])}")
    _line(
        "client events received / written (webhook)",
        f"{r['events_received']} / {r['events_written']}",
        f"{r['events_received_again']} again (at least once), {r['deliveries_still_pending']} still pending",
        r["events_received"] == r["events_written"],
    )
    _line(
        "events missing / out of order per client",
        f"{len(r['events_missing'])} / {len(r['events_out_of_order'])}",
        f"target 0; bad signatures {r['bad_signatures']}",
        not r["events_missing"] and not r["events_out_of_order"] and not r["bad_signatures"],
    )
    print(f"  (logs in {r['logs']})")


if __name__ == "__main__":
    main()
