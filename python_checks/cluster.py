"""A real local Spark cluster for the `cluster` target: a standalone master, one
worker and the Spark Thrift Server, all from the pyspark package (no separate
Spark download). `make cluster-up` / `make cluster-down` / `billups cluster`.

State lives under BILLUPS_CLUSTER_DIR (default .cluster/ in the project, git
ignored): logs/, pids/, the Thrift server's warehouse and Derby metastore.
Ports come from the environment (defaults in brackets): BILLUPS_SPARK_MASTER_PORT
[7077], BILLUPS_SPARK_MASTER_UI_PORT [18080], BILLUPS_SPARK_WORKER_UI_PORT
[18081], BILLUPS_THRIFT_PORT [10000] (the one the dbt `cluster` target reads).
The web UIs stay off 8080, which `make docs` serves on. Sizes:
BILLUPS_SPARK_WORKER_CORES [all], BILLUPS_SPARK_WORKER_MEMORY [6g],
BILLUPS_SPARK_EXECUTOR_MEMORY [5g], BILLUPS_THRIFT_DRIVER_MEMORY [2g]; the SQL
settings follow the local profile's (BILLUPS_SHUFFLE_PARTITIONS [8],
BILLUPS_MAX_PARTITION_BYTES [16m]) so both targets plan alike.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from python_checks.project import PROFILES_DIR, PROJECT_DIR, PipelineError, port_open

HOST = "127.0.0.1"
THRIFT_CLASS = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
# The main class each component runs: it is on the command line from the
# spark-class script to the JVM it execs, and tells our process from an
# unrelated one that got the recorded pid after a reboot.
MAIN_CLASSES = {
    "master": "org.apache.spark.deploy.master.Master",
    "worker": "org.apache.spark.deploy.worker.Worker",
    "thriftserver": THRIFT_CLASS,
}


@dataclass(frozen=True)
class ClusterConfig:
    state_dir: Path
    master_port: int
    master_ui_port: int
    worker_ui_port: int
    thrift_port: int
    worker_cores: int
    worker_memory: str
    executor_memory: str
    driver_memory: str
    shuffle_partitions: int
    max_partition_bytes: str

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ClusterConfig:
        env = dict(os.environ if env is None else env)
        return cls(
            state_dir=Path(env.get("BILLUPS_CLUSTER_DIR", PROJECT_DIR / ".cluster")).resolve(),
            master_port=int(env.get("BILLUPS_SPARK_MASTER_PORT", 7077)),
            master_ui_port=int(env.get("BILLUPS_SPARK_MASTER_UI_PORT", 18080)),
            worker_ui_port=int(env.get("BILLUPS_SPARK_WORKER_UI_PORT", 18081)),
            thrift_port=int(env.get("BILLUPS_THRIFT_PORT", 10000)),
            worker_cores=int(env.get("BILLUPS_SPARK_WORKER_CORES", os.cpu_count() or 2)),
            worker_memory=env.get("BILLUPS_SPARK_WORKER_MEMORY", "6g"),
            executor_memory=env.get("BILLUPS_SPARK_EXECUTOR_MEMORY", "5g"),
            driver_memory=env.get("BILLUPS_THRIFT_DRIVER_MEMORY", "2g"),
            shuffle_partitions=int(env.get("BILLUPS_SHUFFLE_PARTITIONS", 8)),
            max_partition_bytes=env.get("BILLUPS_MAX_PARTITION_BYTES", "16m"),
        )

    @property
    def master_url(self) -> str:
        return f"spark://{HOST}:{self.master_port}"

    def path(self, *parts: str) -> Path:
        return self.state_dir.joinpath(*parts)


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def _port_open(port: int) -> bool:
    return port_open(HOST, port)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie (exited, not yet reaped) is not alive
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _read_pid(config: ClusterConfig, name: str) -> int | None:
    """The recorded pid of a component, if that process still runs it."""
    path = config.path("pids", f"{name}.pid")
    try:
        pid = int(path.read_text().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            command = handle.read().decode(errors="replace")
    except (OSError, ValueError):
        return None
    return pid if MAIN_CLASSES[name] in command and _pid_alive(pid) else None


def _env(config: ClusterConfig) -> dict[str, str]:
    return {
        **os.environ,
        "SPARK_HOME": str(spark_home()),
        "SPARK_LOCAL_IP": HOST,
        "SPARK_LOG_DIR": str(config.path("logs")),
        # The master and worker daemons need little heap.
        "SPARK_DAEMON_MEMORY": "512m",
        # The master's REST submission server (port 6066) is not used here and
        # would clash with a second cluster on the machine (a test's, say).
        "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false",
    }


def _start(config: ClusterConfig, name: str, command: list[str]) -> int:
    """Start one detached process (own session, so `make` returns and `down`
    can signal its whole group); record its pid; return it."""
    log = open(config.path("logs", f"{name}.log"), "ab")  # noqa: SIM115 - the child keeps it
    process = subprocess.Popen(command, cwd=config.state_dir, env=_env(config), stdout=log,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               start_new_session=True)
    log.close()
    config.path("pids", f"{name}.pid").write_text(str(process.pid))
    return process.pid


def _wait(config: ClusterConfig, name: str, pid: int, ready, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if not _pid_alive(pid):
            break
        time.sleep(1)
    what = "exited" if not _pid_alive(pid) else f"did not come up within {timeout:.0f}s"
    log = config.path("logs", f"{name}.log")
    tail = log.read_text(errors="replace").splitlines()[-15:] if log.exists() else []
    down(config, quiet=True)
    raise PipelineError(
        f"the Spark {name} {what}; its log is {log}"
        + ("\n    " + "\n    ".join(tail) if tail else "")
    )


def thrift_answers(port: int) -> bool:
    """True when a Thrift server on the port runs a real query: one with a
    shuffle, so it needs an executor on the worker, not only the driver
    (`select 1` is answered by the driver alone, before any worker joined)."""
    if not _port_open(port):
        return False
    try:
        from pyhive import hive

        connection = hive.connect(host=HOST, port=port, username="billups")
        try:
            cursor = connection.cursor()
            cursor.execute("select count(distinct id % 7) from range(0, 1000, 1, 2)")
            return cursor.fetchall() == [(7,)]
        finally:
            connection.close()
    except Exception:  # noqa: BLE001 - not up yet, whatever the protocol says
        return False


def alive_workers(config: ClusterConfig) -> int:
    """Workers registered with the master, from its web UI's JSON (0 if it
    does not answer)."""
    url = f"http://{HOST}:{config.master_ui_port}/json/"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(json.load(response).get("aliveworkers", 0))
    except (OSError, ValueError):
        return 0


COMPONENTS = ("master", "worker", "thriftserver")


def up(config: ClusterConfig | None = None, echo=print, timeout: float = 240) -> None:
    """Start master, worker and Thrift server; return when the server answers."""
    config = config or ClusterConfig.from_env()
    if shutil.which("java") is None and "JAVA_HOME" not in os.environ:
        raise PipelineError("Java (17) is required by Spark but 'java' is not on PATH: install "
                            "it, e.g. apt-get install openjdk-17-jre-headless.")
    running = {name: _read_pid(config, name) for name in COMPONENTS}
    if all(running.values()) and thrift_answers(config.thrift_port):
        echo(f"cluster already up: Spark Thrift Server on {HOST}:{config.thrift_port}, "
             f"master {config.master_url} (state in {config.state_dir})")
        return
    if any(running.values()):
        echo("a previous cluster is partly up: stopping it first")
        down(config, quiet=True)
    ports = {
        "master": (config.master_port, "BILLUPS_SPARK_MASTER_PORT"),
        "master web UI": (config.master_ui_port, "BILLUPS_SPARK_MASTER_UI_PORT"),
        "worker web UI": (config.worker_ui_port, "BILLUPS_SPARK_WORKER_UI_PORT"),
        "Thrift server": (config.thrift_port, "BILLUPS_THRIFT_PORT"),
    }
    for what, (port, variable) in ports.items():
        if _port_open(port):
            guess = " (by another Thrift server?)" if what == "Thrift server" else ""
            raise PipelineError(
                f"port {port} ({what}) is taken{guess}: stop what listens there, or set "
                f"{variable} to a free port (the dbt cluster target reads BILLUPS_THRIFT_PORT)."
            )
    for folder in ("logs", "pids", "work"):
        config.path(folder).mkdir(parents=True, exist_ok=True)
    bin_dir = spark_home() / "bin"
    started = time.monotonic()

    pid = _start(config, "master", [
        str(bin_dir / "spark-class"), MAIN_CLASSES["master"],
        "--host", HOST, "--port", str(config.master_port),
        "--webui-port", str(config.master_ui_port)])
    _wait(config, "master", pid, lambda: _port_open(config.master_port), 120)

    pid = _start(config, "worker", [
        str(bin_dir / "spark-class"), MAIN_CLASSES["worker"],
        config.master_url, "--host", HOST, "--cores", str(config.worker_cores),
        "--memory", config.worker_memory, "--webui-port", str(config.worker_ui_port),
        "--work-dir", str(config.path("work"))])
    # The Thrift server's first query would otherwise wait silently for an
    # executor that never comes (a worker that died on start).
    _wait(config, "worker", pid, lambda: alive_workers(config) > 0, 120)

    warehouse, metastore = config.path("warehouse"), config.path("metastore_db")
    log4j = PROFILES_DIR / "log4j2.properties"
    conf = {
        "spark.sql.warehouse.dir": str(warehouse),
        "spark.hadoop.javax.jdo.option.ConnectionURL":
            f"jdbc:derby:;databaseName={metastore};create=true",
        "spark.driver.extraJavaOptions":
            f"-Dderby.system.home={config.state_dir} -Dlog4j2.configurationFile={log4j}",
        "spark.executor.extraJavaOptions": f"-Dlog4j2.configurationFile={log4j}",
        "spark.executor.memory": config.executor_memory,
        "spark.cores.max": str(config.worker_cores),
        # The same SQL settings as the local profile, so both targets plan alike.
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(config.shuffle_partitions),
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.adaptive.coalescePartitions.enabled": "true",
        "spark.sql.files.maxPartitionBytes": config.max_partition_bytes,
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        # As in the local profile: a failed metastore partition filter falls
        # back to filtering the partition list in Spark.
        "spark.sql.hive.metastorePartitionPruningFallbackOnException": "true",
        "spark.sql.hive.metastorePartitionPruningFastFallback": "true",
        # dbt-spark turns ANSI mode off in every session it opens; the Thrift
        # server ignores that plain session key (profiles.yml sets it the way
        # the server reads), so make it the server's default too.
        "spark.sql.ansi.enabled": "false",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
    }
    command = [str(bin_dir / "spark-submit"), "--class", THRIFT_CLASS,
               "--master", config.master_url, "--name", "billups-thrift-server",
               "--driver-memory", config.driver_memory]
    for key, value in conf.items():
        command += ["--conf", f"{key}={value}"]
    command += ["spark-internal", "--hiveconf", f"hive.server2.thrift.port={config.thrift_port}",
                "--hiveconf", f"hive.server2.thrift.bind.host={HOST}"]
    pid = _start(config, "thriftserver", command)
    _wait(config, "thriftserver", pid, lambda: thrift_answers(config.thrift_port), timeout)
    echo(f"cluster up in {time.monotonic() - started:.0f}s: Spark Thrift Server on "
         f"{HOST}:{config.thrift_port}, master {config.master_url}, 1 worker "
         f"({config.worker_cores} cores, {config.worker_memory}); logs in {config.path('logs')}")


def down(config: ClusterConfig | None = None, echo=print, quiet: bool = False) -> None:
    """Stop what `up` started (TERM, then KILL after 20 s); idempotent."""
    config = config or ClusterConfig.from_env()
    stopped = []
    for name in reversed(COMPONENTS):
        pid_file = config.path("pids", f"{name}.pid")
        pid = _read_pid(config, name)
        if pid is not None:
            for sig, wait in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(pid, sig)
                except OSError:
                    break
                deadline = time.monotonic() + wait
                while _pid_alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.2)
                if not _pid_alive(pid):
                    break
            stopped.append(name)
        pid_file.unlink(missing_ok=True)
    if not quiet:
        echo(f"cluster down: stopped {', '.join(stopped)}" if stopped
             else "cluster down: nothing was running")


def status(config: ClusterConfig | None = None, echo=print) -> bool:
    """Print what runs; True when the Thrift server answers."""
    config = config or ClusterConfig.from_env()
    ports = {"master": f"{config.master_url}, web UI http://{HOST}:{config.master_ui_port}",
             "worker": f"web UI http://{HOST}:{config.worker_ui_port}",
             "thriftserver": f"{HOST}:{config.thrift_port}"}
    for name in COMPONENTS:
        pid = _read_pid(config, name)
        echo(f"{name:13s} {'pid ' + str(pid) + '  ' + ports[name] if pid else 'not running'}")
    answering = thrift_answers(config.thrift_port)
    workers = alive_workers(config)
    echo(f"Thrift server on {HOST}:{config.thrift_port}: "
         f"{'answers queries' if answering else 'not answering'}; "
         f"{workers} worker(s) registered; logs in {config.path('logs')}")
    return answering
