"""A Remote Workers API (v1test2) bot for the remote execution tests.

It registers with a BuildGrid server, takes one lease at a time, runs the
REAPI v2 Action it carries in a fresh directory holding exactly the Action's
input root, and reports an ActionResult whose outputs, stdout and stderr it
has uploaded to the CAS. See README.md beside this file.

It needs only grpcio, protobuf and the generated protos that BuildGrid
bundles, so it runs with the interpreter of the test venv:

    python worker.py --server 127.0.0.1:PORT --instance NAME \\
        --work-dir DIR --bot-id ID
"""

import argparse
import concurrent.futures
import datetime
import hashlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import grpc
from buildgrid._protos.build.bazel.remote.execution.v2 import remote_execution_pb2 as re
from buildgrid._protos.build.bazel.remote.execution.v2 import remote_execution_pb2_grpc as re_grpc
from buildgrid._protos.google.bytestream import bytestream_pb2 as bs
from buildgrid._protos.google.bytestream import bytestream_pb2_grpc as bs_grpc
from buildgrid._protos.google.devtools.remoteworkers.v1test2 import bots_pb2
from buildgrid._protos.google.devtools.remoteworkers.v1test2 import bots_pb2_grpc
from buildgrid._protos.google.rpc import code_pb2, status_pb2
from google.protobuf import timestamp_pb2

# BuildGrid caps batch requests at ~4 MiB; staying below leaves room for the
# rest of the message. Blobs over BLOB_BATCH_MAX go over ByteStream.
BATCH_BYTES = 3 << 20
BLOB_BATCH_MAX = 1 << 20
CHUNK = 1 << 20
# Concurrent CAS calls of one action.
PARALLEL = 4
# Time to wait for a long poll's answer; the server answers after
# 0.8 x min(this, its keepalive timeout).
POLL_DEADLINE = 20.0
RPC_DEADLINE = 30.0

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def log(msg):
    stamp = datetime.datetime.now().strftime("%H:%M:%S.%f")[:-3]
    sys.stderr.write(f"{stamp} {msg}\n")
    sys.stderr.flush()


def now_ts():
    ts = timestamp_pb2.Timestamp()
    ts.GetCurrentTime()
    return ts


def digest_of(data):
    return re.Digest(hash=hashlib.sha256(data).hexdigest(), size_bytes=len(data))


def file_digest(path):
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read(CHUNK)
            if not chunk:
                break
            h.update(chunk)
            size += len(chunk)
    return re.Digest(hash=h.hexdigest(), size_bytes=size)


def serialize(msg):
    # Digests of Directory and Tree messages must not depend on map order.
    return msg.SerializeToString(deterministic=True)


class ActionFailure(Exception):
    """Ends an action with a gRPC status instead of an ActionResult."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class Cas:
    """CAS and ByteStream access for one instance."""

    def __init__(self, channel, instance):
        self.instance = instance
        self.cas = re_grpc.ContentAddressableStorageStub(channel)
        self.bytestream = bs_grpc.ByteStreamStub(channel)

    def _resource(self, digest, upload=False):
        tail = f"blobs/{digest.hash}/{digest.size_bytes}"
        if upload:
            tail = f"uploads/{uuid.uuid4()}/{tail}"
        return f"{self.instance}/{tail}" if self.instance else tail

    def read_many(self, digests):
        """Reads blobs by digest: {hash: bytes}. Missing blobs raise
        FAILED_PRECONDITION, as REAPI asks of a missing input."""
        out = {}
        pending = []
        large = []
        for d in {d.hash: d for d in digests}.values():
            if d.size_bytes == 0:
                out[d.hash] = b""
            elif d.size_bytes > BLOB_BATCH_MAX:
                large.append(d)
            else:
                pending.append(d)

        def read_batch(batch):
            resp = self.cas.BatchReadBlobs(
                re.BatchReadBlobsRequest(instance_name=self.instance, digests=batch),
                timeout=RPC_DEADLINE,
            )
            got = {}
            for r in resp.responses:
                if r.status.code != code_pb2.OK:
                    raise ActionFailure(
                        code_pb2.FAILED_PRECONDITION,
                        f"missing blob sha256:{r.digest.hash}/{r.digest.size_bytes}: {r.status.message}",
                    )
                check(r.digest, r.data)
                got[r.digest.hash] = r.data
            return got

        jobs = [(read_batch, b) for b in batches(pending, lambda d: d.size_bytes)]
        jobs += [(lambda d: {d.hash: self.read_stream(d)}, d) for d in large]
        for got in in_parallel(jobs):
            out.update(got)
        return out

    def read_stream(self, digest, sink=None):
        # No read_limit: BuildGrid 0.4.4 answers DATA_LOSS to any limit.
        parts = []
        h = hashlib.sha256()
        size = 0
        try:
            for resp in self.bytestream.Read(
                bs.ReadRequest(resource_name=self._resource(digest)), timeout=RPC_DEADLINE * 4
            ):
                h.update(resp.data)
                size += len(resp.data)
                if sink is not None:
                    sink.write(resp.data)
                else:
                    parts.append(resp.data)
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.NOT_FOUND:
                raise ActionFailure(
                    code_pb2.FAILED_PRECONDITION,
                    f"missing blob sha256:{digest.hash}/{digest.size_bytes}",
                )
            raise
        if h.hexdigest() != digest.hash or size != digest.size_bytes:
            raise ActionFailure(code_pb2.DATA_LOSS, f"blob sha256:{digest.hash} read back corrupt")
        return b"".join(parts)

    def upload(self, blobs):
        """Uploads {hash: (digest, bytes or path)} that the CAS lacks."""
        if not blobs:
            return
        digests = [d for d, _ in blobs.values()]
        missing = []
        for i in range(0, len(digests), 1000):
            resp = self.cas.FindMissingBlobs(
                re.FindMissingBlobsRequest(instance_name=self.instance, blob_digests=digests[i:i + 1000]),
                timeout=RPC_DEADLINE,
            )
            missing.extend(resp.missing_blob_digests)
        small = [d for d in missing if d.size_bytes <= BLOB_BATCH_MAX]
        large = [d for d in missing if d.size_bytes > BLOB_BATCH_MAX]

        def write_batch(batch):
            reqs = []
            for d in batch:
                src = blobs[d.hash][1]
                if isinstance(src, bytes):
                    data = src
                else:
                    with open(src, "rb") as f:
                        data = f.read()
                reqs.append(re.BatchUpdateBlobsRequest.Request(digest=d, data=data))
            resp = self.cas.BatchUpdateBlobs(
                re.BatchUpdateBlobsRequest(instance_name=self.instance, requests=reqs),
                timeout=RPC_DEADLINE,
            )
            for r in resp.responses:
                if r.status.code != code_pb2.OK:
                    raise RuntimeError(f"upload of sha256:{r.digest.hash} failed: {r.status.message}")

        jobs = [(write_batch, b) for b in batches(small, lambda d: d.size_bytes)]
        jobs += [(lambda d: self.write_stream(d, blobs[d.hash][1]), d) for d in large]
        in_parallel(jobs)

    def write_stream(self, digest, src):
        name = self._resource(digest, upload=True)

        def requests():
            offset = 0
            f = None if isinstance(src, bytes) else open(src, "rb")
            try:
                while True:
                    if f is None:
                        data = src[offset:offset + CHUNK]
                    else:
                        data = f.read(CHUNK)
                    last = offset + len(data) >= digest.size_bytes
                    yield bs.WriteRequest(
                        resource_name=name if offset == 0 else "",
                        write_offset=offset,
                        finish_write=last,
                        data=data,
                    )
                    offset += len(data)
                    if last:
                        return
            finally:
                if f is not None:
                    f.close()

        resp = self.bytestream.Write(requests(), timeout=RPC_DEADLINE * 4)
        if resp.committed_size not in (digest.size_bytes, -1):
            raise RuntimeError(f"upload of sha256:{digest.hash}: committed {resp.committed_size}")


def in_parallel(jobs):
    """Runs (function, argument) pairs, PARALLEL at a time; their results in
    order. The first exception is raised once all have ended."""
    if len(jobs) <= 1:
        return [f(a) for f, a in jobs]
    with concurrent.futures.ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        futures = [pool.submit(f, a) for f, a in jobs]
        return [fut.result() for fut in futures]


def batches(items, size_of):
    batch, total = [], 0
    for item in items:
        size = size_of(item)
        if batch and total + size > BATCH_BYTES:
            yield batch
            batch, total = [], 0
        batch.append(item)
        total += size
    if batch:
        yield batch


def check(digest, data):
    if len(data) != digest.size_bytes or hashlib.sha256(data).hexdigest() != digest.hash:
        raise ActionFailure(code_pb2.DATA_LOSS, f"blob sha256:{digest.hash} read back corrupt")


def safe_name(name):
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise ActionFailure(code_pb2.INVALID_ARGUMENT, f"bad name in input tree: {name!r}")
    return name


def safe_rel(path, what):
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if path.startswith("/") or ".." in parts:
        raise ActionFailure(code_pb2.INVALID_ARGUMENT, f"{what} must stay inside the input root: {path!r}")
    return "/".join(parts)


def fetch_tree(cas, root_digest):
    """All Directory messages of an input root: {hash: Directory}."""
    dirs = {}
    level = [root_digest]
    while level:
        want = [d for d in {d.hash: d for d in level}.values() if d.hash not in dirs]
        blobs = cas.read_many(want)
        level = []
        for d in want:
            msg = re.Directory()
            msg.ParseFromString(blobs[d.hash])
            dirs[d.hash] = msg
            level.extend(node.digest for node in msg.directories)
    return dirs


def materialise(cas, dirs, root_digest, root, blob_cache):
    """Lays out the input root under `root` (an existing empty directory).

    Files are hard links into `blob_cache`, the bot's own store of the
    blobs earlier actions fetched (read-only, one inode per digest and
    executable bit), as real workers keep one: the toolchain in every
    input root is then fetched once per bot, not once per action.
    """
    files = []  # (path, digest, executable)
    stack = [(root_digest, root)]
    while stack:
        digest, path = stack.pop()
        msg = dirs[digest.hash]
        for node in msg.directories:
            sub = os.path.join(path, safe_name(node.name))
            os.mkdir(sub, 0o755)
            stack.append((node.digest, sub))
        for node in msg.files:
            files.append((os.path.join(path, safe_name(node.name)), node.digest, node.is_executable))
        for node in msg.symlinks:
            os.symlink(node.target, os.path.join(path, safe_name(node.name)))

    def cached(digest, executable):
        return os.path.join(blob_cache, f"{digest.hash}-{digest.size_bytes}{'-x' if executable else ''}")

    wanted = {}
    for _, d, x in files:
        if not os.path.exists(cached(d, x)):
            wanted[(d.hash, x)] = (d, x)
    small = [d for d, _ in wanted.values() if d.size_bytes <= BLOB_BATCH_MAX]
    contents = cas.read_many(small)

    def fill(entry):
        digest, executable = entry
        final = cached(digest, executable)
        mode = 0o555 if executable else 0o444
        fd, tmp = tempfile.mkstemp(dir=blob_cache, prefix=".part-")
        with os.fdopen(fd, "wb") as f:
            if digest.size_bytes > BLOB_BATCH_MAX:
                cas.read_stream(digest, sink=f)
            else:
                f.write(contents[digest.hash])
        # The umask must not decide the mode; read-only, since every
        # action that gets the blob shares the inode.
        os.chmod(tmp, mode)
        os.replace(tmp, final)

    for entry in wanted.values():
        if entry[0].size_bytes <= BLOB_BATCH_MAX:
            fill(entry)
    in_parallel([(fill, e) for e in wanted.values() if e[0].size_bytes > BLOB_BATCH_MAX])
    for path, digest, executable in files:
        os.link(cached(digest, executable), path)


class Outputs:
    """Output blobs and the ActionResult fields that name them."""

    def __init__(self):
        self.blobs = {}

    def add_bytes(self, data):
        d = digest_of(data)
        self.blobs.setdefault(d.hash, (d, data))
        return d

    def add_file(self, path):
        d = file_digest(path)
        self.blobs.setdefault(d.hash, (d, path))
        return d

    def directory(self, path, children):
        """The Directory message of `path`, its children's Directory
        messages collected into `children` ({hash: Directory})."""
        msg = re.Directory()
        entries = sorted(os.scandir(path), key=lambda e: e.name)
        for e in entries:
            if e.is_symlink():
                msg.symlinks.add(name=e.name, target=os.readlink(e.path))
            elif e.is_dir():
                sub = self.directory(e.path, children)
                data = serialize(sub)
                d = digest_of(data)
                children.setdefault(d.hash, sub)
                msg.directories.add(name=e.name, digest=d)
            elif e.is_file():
                msg.files.add(
                    name=e.name,
                    digest=self.add_file(e.path),
                    is_executable=bool(e.stat().st_mode & stat.S_IXUSR),
                )
        return msg

    def output_directory(self, result, rel, path, fmt):
        children = {}
        root = self.directory(path, children)
        tree = re.Tree(root=root, children=list(children.values()))
        for child in children.values():
            self.add_bytes(serialize(child))
        out = result.output_directories.add(path=rel)
        if fmt in (re.Command.TREE_ONLY, re.Command.TREE_AND_DIRECTORY):
            out.tree_digest.CopyFrom(self.add_bytes(serialize(tree)))
        if fmt in (re.Command.DIRECTORY_ONLY, re.Command.TREE_AND_DIRECTORY):
            out.root_directory_digest.CopyFrom(self.add_bytes(serialize(root)))

    def output_file(self, result, rel, path):
        result.output_files.add(
            path=rel,
            digest=self.add_file(path),
            is_executable=bool(os.stat(path).st_mode & stat.S_IXUSR),
        )


def collect(command, workdir, result):
    outputs = Outputs()
    fmt = command.output_directory_format
    if command.output_paths:
        # REAPI v2.1: the kind of each output is what the action made.
        for rel in sorted(command.output_paths):
            path = os.path.join(workdir, rel)
            if os.path.islink(path):
                result.output_symlinks.add(path=rel, target=os.readlink(path))
            elif os.path.isdir(path):
                outputs.output_directory(result, rel, path, fmt)
            elif os.path.isfile(path):
                outputs.output_file(result, rel, path)
    else:
        for rel in sorted(command.output_files):
            path = os.path.join(workdir, rel)
            if os.path.isfile(path):
                outputs.output_file(result, rel, path)
        for rel in sorted(command.output_directories):
            path = os.path.join(workdir, rel)
            if os.path.isdir(path):
                outputs.output_directory(result, rel, path, fmt)
    return outputs


def remove_tree(path):
    def retry(func, p, _exc):
        # An action may leave directories without write permission.
        try:
            os.chmod(os.path.dirname(p), 0o700)
            if os.path.isdir(p) and not os.path.islink(p):
                os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass

    shutil.rmtree(path, onerror=retry)


class Runner:
    """Runs one lease's action in a thread, so that the main thread can keep
    the bot session alive meanwhile."""

    def __init__(self, bot, lease):
        self.bot = bot
        self.lease_id = lease.id
        self.payload = lease.payload
        self.status = status_pb2.Status(code=code_pb2.OK)
        self.result = None
        self.proc = None
        self.phases = []
        self.cancelled = False
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def cancel(self):
        with self.lock:
            self.cancelled = True
            if self.proc is not None:
                kill_group(self.proc)

    def _run(self):
        started = time.monotonic()
        label = self.lease_id
        try:
            action = self._action()
            label = f"{self.lease_id} action {action_hash(action)[:12]}"
            self._execute(action, label)
        except ActionFailure as e:
            self.status = status_pb2.Status(code=e.code, message=e.message)
        except grpc.RpcError as e:
            self.status = status_pb2.Status(code=code_pb2.UNAVAILABLE, message=f"CAS: {e.code()}: {e.details()}")
        except Exception as e:  # noqa: BLE001 - reported as the lease's status
            self.status = status_pb2.Status(code=code_pb2.INTERNAL, message=f"{type(e).__name__}: {e}")
        ms = int((time.monotonic() - started) * 1000)
        if self.result is not None and self.status.code == code_pb2.OK:
            outcome = f"exit {self.result.exit_code}"
        else:
            outcome = f"status {code_pb2.Code.Name(self.status.code)}: {self.status.message}"
        phases = f" ({', '.join(self.phases)})" if self.phases else ""
        log(f"{self.bot.bot_id}: lease {label}: {outcome} in {ms} ms{phases}")
        self.done.set()

    def _action(self):
        action = re.Action()
        if self.payload.Is(re.Action.DESCRIPTOR):
            self.payload.Unpack(action)
            return action
        digest = re.Digest()
        if not self.payload.Unpack(digest):
            raise ActionFailure(code_pb2.INVALID_ARGUMENT, f"unknown lease payload {self.payload.type_url}")
        action.ParseFromString(self.bot.cas.read_many([digest])[digest.hash])
        return action

    def phase(self, name, since):
        self.phases.append(f"{name} {int((time.monotonic() - since) * 1000)} ms")
        return time.monotonic()

    def _execute(self, action, label):
        t = time.monotonic()
        cas = self.bot.cas
        meta = re.ExecutedActionMetadata(worker=self.bot.bot_id)
        meta.worker_start_timestamp.CopyFrom(now_ts())
        meta.input_fetch_start_timestamp.CopyFrom(now_ts())
        command = re.Command()
        command.ParseFromString(cas.read_many([action.command_digest])[action.command_digest.hash])
        if not command.arguments:
            raise ActionFailure(code_pb2.INVALID_ARGUMENT, "the Command has no arguments")
        dirs = fetch_tree(cas, action.input_root_digest)
        root = tempfile.mkdtemp(prefix="action-", dir=self.bot.work_dir)
        try:
            materialise(cas, dirs, action.input_root_digest, root, self.bot.blob_cache)
            workdir = os.path.join(root, safe_rel(command.working_directory, "working_directory"))
            os.makedirs(workdir, exist_ok=True)
            # REAPI: the worker creates the parents of every output.
            for rel in list(command.output_paths) + list(command.output_files) + list(command.output_directories):
                parent = os.path.dirname(safe_rel(rel, "an output path"))
                if parent:
                    os.makedirs(os.path.join(workdir, parent), exist_ok=True)
            meta.input_fetch_completed_timestamp.CopyFrom(now_ts())
            t = self.phase("inputs", t)
            log(f"{self.bot.bot_id}: lease {label}: running {' '.join(command.arguments)[:200]}")

            env = {v.name: v.value for v in command.environment_variables}
            timeout = action.timeout.seconds + action.timeout.nanos / 1e9 if action.HasField("timeout") else None
            stdout_path = os.path.join(self.bot.work_dir, f"stdout-{os.path.basename(root)}")
            stderr_path = os.path.join(self.bot.work_dir, f"stderr-{os.path.basename(root)}")
            meta.execution_start_timestamp.CopyFrom(now_ts())
            try:
                exit_code, timed_out = self._spawn(command, env, workdir, timeout, stdout_path, stderr_path)
                meta.execution_completed_timestamp.CopyFrom(now_ts())
                t = self.phase("run", t)
                if self.cancelled:
                    raise ActionFailure(code_pb2.CANCELLED, "the server cancelled the lease")

                meta.output_upload_start_timestamp.CopyFrom(now_ts())
                result = re.ActionResult(exit_code=exit_code)
                outputs = collect(command, workdir, result)
                result.stdout_digest.CopyFrom(outputs.add_file(stdout_path))
                result.stderr_digest.CopyFrom(outputs.add_file(stderr_path))
                cas.upload(outputs.blobs)
            finally:
                for p in (stdout_path, stderr_path):
                    if os.path.exists(p):
                        os.unlink(p)
            meta.output_upload_completed_timestamp.CopyFrom(now_ts())
            self.phase("outputs", t)
            meta.worker_completed_timestamp.CopyFrom(now_ts())
            result.execution_metadata.CopyFrom(meta)
            self.result = result
            if timed_out:
                # REAPI: a timed-out action is DEADLINE_EXCEEDED, with what it
                # wrote so far as the result.
                self.status = status_pb2.Status(
                    code=code_pb2.DEADLINE_EXCEEDED, message=f"the action ran past its timeout of {timeout:g} s"
                )
        finally:
            remove_tree(root)

    def _spawn(self, command, env, workdir, timeout, stdout_path, stderr_path):
        with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
            with self.lock:
                if self.cancelled:
                    raise ActionFailure(code_pb2.CANCELLED, "the server cancelled the lease")
                try:
                    self.proc = subprocess.Popen(
                        list(command.arguments),
                        cwd=workdir,
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=err,
                        start_new_session=True,
                        close_fds=True,
                    )
                except OSError as e:
                    raise ActionFailure(
                        code_pb2.INVALID_ARGUMENT, f"cannot run {command.arguments[0]!r}: {e.strerror}"
                    )
                self.bot.running = self.proc
            try:
                code = self.proc.wait(timeout=timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                kill_group(self.proc)
                code = self.proc.wait()
                timed_out = True
            # Whatever the action left running in its group dies with it.
            kill_group(self.proc)
            self.bot.running = None
        # A signal shows as the shell's 128 + signal number.
        return (code if code >= 0 else 128 - code), timed_out


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def action_hash(action):
    return hashlib.sha256(serialize(action)).hexdigest()


class Bot:
    def __init__(self, args):
        self.bot_id = args.bot_id
        self.instance = args.instance
        self.work_dir = os.path.abspath(args.work_dir)
        self.blob_cache = os.path.join(self.work_dir, "blobs")
        os.makedirs(self.blob_cache, exist_ok=True)
        self.keepalive = args.keepalive
        options = [
            ("grpc.max_receive_message_length", 64 << 20),
            ("grpc.max_send_message_length", 64 << 20),
            # The bot starts with the server: gRPC's default reconnect
            # backoff (1 s, growing) would add seconds to every stack start.
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.min_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 500),
        ]
        self.channel = grpc.insecure_channel(args.server, options=options)
        self.bots = bots_pb2_grpc.BotsStub(self.channel)
        self.cas = Cas(self.channel, self.instance)
        self.running = None
        self.runner = None
        self.session = None

    def new_session(self):
        session = bots_pb2.BotSession(bot_id=self.bot_id, status=bots_pb2.OK)
        device = session.worker.devices.add(handle=self.bot_id)
        device.properties.add(key="OSFamily", value="linux")
        device.properties.add(key="ISA", value="x86-64")
        session.worker.configs.add(key="capacity", value="1")
        deadline = time.monotonic() + 60
        while True:
            try:
                # A deadline under BuildGrid's 3 s network timeout makes it
                # register the session without waiting for work.
                self.session = self.bots.CreateBotSession(
                    bots_pb2.CreateBotSessionRequest(parent=self.instance, bot_session=session),
                    timeout=2,
                )
                break
            except grpc.RpcError as e:
                if time.monotonic() > deadline:
                    raise
                if e.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                    raise
                time.sleep(0.1)
        log(f"{self.bot_id}: ready, session {self.session.name} (uid {os.getuid()})")

    def update(self, timeout):
        req = bots_pb2.UpdateBotSessionRequest(name=self.session.name, bot_session=self.session)
        self.session = self.bots.UpdateBotSession(req, timeout=timeout)

    def run(self):
        self.new_session()
        failures = 0
        while True:
            try:
                self.step()
                failures = 0
            except grpc.RpcError as e:
                failures += 1
                code = e.code()
                if code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT,
                            grpc.StatusCode.FAILED_PRECONDITION):
                    # The server closed the session (it thought the bot
                    # dead, or restarted): whatever ran is re-queued there.
                    log(f"{self.bot_id}: session lost ({code.name}: {e.details()}), registering again")
                    if self.runner is not None:
                        self.runner.cancel()
                        self.runner.done.wait()
                        self.runner = None
                    self.new_session()
                elif failures == 1 or failures % 50 == 0:
                    log(f"{self.bot_id}: UpdateBotSession failed ({code.name}: {e.details()}), retrying")
                time.sleep(min(0.1 * failures, 1.0))

    def step(self):
        if self.runner is not None:
            lease = self.lease(self.runner.lease_id)
            if lease is None:
                self.runner.cancel()
                self.runner.done.wait()
                self.runner = None
                return
            if self.runner.done.wait(self.keepalive):
                runner = self.runner
                lease.state = bots_pb2.COMPLETED
                lease.status.CopyFrom(runner.status)
                if runner.result is not None:
                    lease.result.Pack(runner.result)
                self.update(RPC_DEADLINE)
                self.runner = None
            else:
                self.update(RPC_DEADLINE)
                if self.lease(self.runner.lease_id) is None:
                    log(f"{self.bot_id}: lease {self.runner.lease_id} withdrawn by the server")
                    self.runner.cancel()
                    self.runner.done.wait()
                    self.runner = None
            return
        for lease in self.session.leases:
            if lease.state == bots_pb2.ACTIVE:
                self.runner = Runner(self, lease)
                return
        # Idle, or leases in states the bot does not act on: ask for work.
        self.update(POLL_DEADLINE)

    def lease(self, lease_id):
        for lease in self.session.leases:
            if lease.id == lease_id:
                return lease
        return None


def watch_parent(bot):
    # The bot must not outlive the test that started it, nor leave its
    # action running.
    parent = os.getppid()
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            if bot.running is not None:
                kill_group(bot.running)
            os._exit(1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", required=True, help="host:port of the BuildGrid server")
    p.add_argument("--instance", default="", help="instance name the bot serves")
    p.add_argument("--work-dir", required=True, help="directory for the actions' input roots")
    p.add_argument("--bot-id", required=True, help="bot id, unique among the server's bots")
    p.add_argument("--keepalive", type=float, default=1.0, help="seconds between keepalives while running")
    args = p.parse_args()
    server = args.server
    for scheme in ("grpc://", "http://"):
        if server.startswith(scheme):
            server = server[len(scheme):]
    args.server = server.rstrip("/")
    os.makedirs(args.work_dir, exist_ok=True)

    bot = Bot(args)

    def on_term(_sig, _frame):
        if bot.running is not None:
            kill_group(bot.running)
        os._exit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    threading.Thread(target=watch_parent, args=(bot,), daemon=True).start()
    bot.run()


if __name__ == "__main__":
    main()
