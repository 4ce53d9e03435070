"""The cluster's email worker: `manage.py email_worker`, one process beside the
daphnes (a second one would be safe: each task is claimed once)."""

import subprocess
import sys
import time

from cluster_parts import ROOT, Part

# A worker that dies at start-up (a bad setting, no database) does so at once.
STARTUP_CHECK_SECONDS = 2.0


class Worker(Part):
    name = "worker"
    port = 0
    port_option = ""

    def __init__(self, cluster):
        super().__init__(cluster)
        self.pid_file = cluster.folder / "worker.pid"
        self.log = cluster.folder / "worker.log"

    def marker(self) -> str:
        return "manage.py email_worker"

    def require_free_port(self) -> None:
        """It listens on no port."""

    def start(self) -> None:
        with self.log.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "manage.py", "email_worker", "--no-reload"],
                cwd=ROOT, env=self.cluster.process_env(), stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self.pid_file.write_text(f"{process.pid}\n")
        time.sleep(STARTUP_CHECK_SECONDS)
        if process.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise SystemExit(f"{self.name} exited ({process.returncode}):\n{tail}")

    def describe(self) -> str:
        return f"email notifications (log {self.cluster.rel(self.log)})"
