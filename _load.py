import subprocess
import sys

from bench.api import closed_loop, role, stack_with_pids, warm

with stack_with_pids(workers=2) as (url, pids):
    warm(url)
    procs = []
    for pid in pids:
        r = role(pid)
        if r in ("web", "workers"):
            procs.append(
                subprocess.Popen(
                    [
                        ".venv/bin/py-spy",
                        "record",
                        "-p",
                        str(pid),
                        "-d",
                        "10",
                        "-f",
                        "raw",
                        "-o",
                        f"/tmp/wt18/out/prof_{r}_{pid}.txt",
                        "-r",
                        "100",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
    lat, el = closed_loop(url, int(sys.argv[1]), 11)
    print(len(lat) / el, "req/s")
    for p in procs:
        p.wait(30)
