"""Container images for the lab's real node, without a registry.

Each image is one uncompressed layer written with ``tarfile`` in a fixed order with fixed
owners and times, so the same inputs always give the same digests. The image is an OCI image
layout in a tar (``oci-layout``, ``index.json``, ``blobs/sha256/...``), the form
``ctr images import`` reads; its index names the image (``io.containerd.image.name``), so it
lands in containerd under the chart's or kubelet's exact name. Built layouts are cached in
``$DEXAUTH_CACHE/images`` by the digest of their inputs: a second lab builds nothing.

Images (the binaries are static: no libc, nothing else in the layer):
  * the pod sandbox: ``registry.k8s.io/pause:<PAUSE_VERSION>`` (containerd's default name);
  * kube-apiserver: ``registry.k8s.io/kube-apiserver:<KUBERNETES_VERSION>``, for the static pod;
  * Dex: ``ghcr.io/dexidp/dex:<DEX_VERSION>`` (the chart's default image): the toolchain's dex
    and Dex's own web assets from the Go module cache at /srv/dex/web.
  * the account service: ``dexauth/account-service:<authctl version>`` (the chart's default
    repository, the tag the engine gives it): the project's jar, a Java
    runtime made by ``jlink`` with only the modules the jar uses (``jdeps``), the C libraries that
    runtime links (glibc, zlib: the JDK is not static) and a static launcher as ``authctl``.
"""
import contextlib
import fcntl
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import threading
from pathlib import Path

PATH_ENV = "PATH=/usr/local/bin:/usr/bin:/bin"


def _hash_file(path, h):
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)


class Image:
    """An image: ``name`` (repository:tag), ``files`` (path in image -> host file or directory),
    the process ``entrypoint`` and ``user``."""

    def __init__(self, name, files, entrypoint=None, user="0", env=None, workdir="/"):
        self.name, self.files, self.entrypoint, self.user = name, files, entrypoint or [], user
        self.env = [PATH_ENV, *(env or [])]
        self.workdir = workdir

    def _entries(self):
        """(path in image, host path) for every file, sorted; directories contribute their tree."""
        out = []
        for target, src in self.files.items():
            src = Path(src)
            if src.is_dir():
                for p in sorted(src.rglob("*")):
                    if p.is_file():
                        out.append((f"{target.rstrip('/')}/{p.relative_to(src)}", p))
            else:
                out.append((target, src))
        return sorted(out)

    def key(self):
        h = hashlib.sha256(json.dumps([self.name, self.entrypoint, self.user, self.env, self.workdir]).encode())
        for target, src in self._entries():
            h.update(target.encode())
            h.update(str(os.stat(src).st_mode & 0o111).encode())
            _hash_file(src, h)
        return h.hexdigest()[:16]

    def _layer(self):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            dirs = set()
            for target, src in self._entries():
                parts = Path(target.lstrip("/")).parts
                for i in range(1, len(parts)):
                    d = "/".join(parts[:i])
                    if d not in dirs:
                        dirs.add(d)
                        ti = tarfile.TarInfo(d)
                        ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 0
                        tar.addfile(ti)
                ti = tarfile.TarInfo("/".join(parts))
                ti.size = os.stat(src).st_size
                ti.mode = 0o755 if os.stat(src).st_mode & 0o111 else 0o644
                ti.mtime = 0
                with open(src, "rb") as f:
                    tar.addfile(ti, f)
            for d in ("tmp", "etc"):  # empty mount points runtimes expect
                if d not in dirs:
                    ti = tarfile.TarInfo(d)
                    ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, (0o1777 if d == "tmp" else 0o755), 0
                    tar.addfile(ti)
        return buf.getvalue()

    def write_layout(self, out):
        """Writes the OCI image layout tar to ``out``."""
        blobs = {}

        def blob(data, media):
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            blobs[digest] = data
            return {"mediaType": media, "digest": digest, "size": len(data)}

        layer = self._layer()
        layer_desc = blob(layer, "application/vnd.oci.image.layer.v1.tar")
        config = {
            "architecture": "amd64", "os": "linux",
            "config": {"Entrypoint": self.entrypoint, "Env": self.env, "User": self.user,
                       "WorkingDir": self.workdir},
            "rootfs": {"type": "layers", "diff_ids": [layer_desc["digest"]]},
            "history": [{"created_by": "dexauth lab/images.py", "created": "1970-01-01T00:00:00Z"}],
            "created": "1970-01-01T00:00:00Z",
        }
        config_desc = blob(json.dumps(config, sort_keys=True).encode(), "application/vnd.oci.image.config.v1+json")
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": config_desc, "layers": [layer_desc]}
        manifest_desc = blob(json.dumps(manifest, sort_keys=True).encode(),
                             "application/vnd.oci.image.manifest.v1+json")
        manifest_desc["platform"] = {"architecture": "amd64", "os": "linux"}
        manifest_desc["annotations"] = {"io.containerd.image.name": self.name,
                                        "org.opencontainers.image.ref.name": self.name.rsplit(":", 1)[1]}
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": [manifest_desc]}
        tmp = _private_tmp(out)
        with tarfile.open(tmp, "w") as tar:
            def add(name, data):
                ti = tarfile.TarInfo(name)
                ti.size, ti.mode, ti.mtime = len(data), 0o644, 0
                tar.addfile(ti, io.BytesIO(data))
            add("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
            add("index.json", json.dumps(index, sort_keys=True).encode())
            for digest, data in sorted(blobs.items()):
                add(f"blobs/sha256/{digest.split(':', 1)[1]}", data)
        tmp.replace(out)


def chart_repositories(chart_dir):
    """(Dex's, the account service's) image repositories, as the chart's values.yaml names them."""
    import yaml
    values = yaml.safe_load((Path(chart_dir) / "values.yaml").read_text())
    return values["image"]["repository"], values["account"]["image"]["repository"]


def runtime_name(repository, tag):
    """The reference kubelet asks containerd for when a pod names ``repository:tag``: Docker's
    normalisation (a first component that is no registry host means docker.io, a single name
    docker.io/library)."""
    first, _, rest = repository.partition("/")
    if not rest:
        repository = f"docker.io/library/{repository}"
    elif "." not in first and ":" not in first and first != "localhost":
        repository = f"docker.io/{repository}"
    return f"{repository}:{tag}"


def lab_images(tools, versions, chart_dir):
    """The images the lab's node needs, from the toolchain's binaries."""
    images = [
        Image(f"registry.k8s.io/pause:{versions['PAUSE_VERSION']}", {"/pause": tools["PAUSE_BIN"]},
              entrypoint=["/pause"], user="65535"),
        Image(f"registry.k8s.io/kube-apiserver:{versions['KUBERNETES_VERSION']}",
              {"/usr/local/bin/kube-apiserver": tools["KUBE_APISERVER_BIN"]}),
    ]
    web = dex_web_assets(versions)
    images.append(Image(runtime_name(chart_repositories(chart_dir)[0], versions["DEX_VERSION"]),
                        {"/usr/local/bin/dex": tools["DEX_BIN"], **({"/srv/dex/web": web} if web else {})},
                        entrypoint=["dex"], user="1001"))
    return images


# The runtime's default options (jlink --add-options). The account service and the login guard are
# small services on a few cores: C2's compile threads cost them more CPU at every start (measured on
# the engine's start-up work: 7.7 s CPU with C2, 3.3 s without) than its faster code gives back
# (a bcrypt hash at cost 10: 62 ms with C2, 90 ms without). The serial collector suits small heaps.
RUNTIME_OPTIONS = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]


def java_runtime(jar, cache_dir):
    """A jlink'ed Java runtime with the modules ``jar`` needs, cached by JDK, module list and RUNTIME_OPTIONS."""
    jar = Path(jar)
    cache_dir = Path(cache_dir)
    deps_file = cache_dir / f"jdeps-{hashlib.sha256(jar.read_bytes()).hexdigest()[:16]}.txt"
    with _one_builder(deps_file):
        _module_list(jar, deps_file)
    mods = deps_file.read_text().strip()
    jdk = subprocess.run(["java", "-XshowSettings:properties", "-version"], capture_output=True, text=True).stderr
    jdk_version = next((line.split("=")[1].strip() for line in jdk.splitlines() if "java.runtime.version" in line), "")
    out = cache_dir / f"jre-{hashlib.sha256((jdk_version + mods + ' '.join(RUNTIME_OPTIONS)).encode()).hexdigest()[:16]}"
    with _one_builder(out):
        _jlink(mods, out)
    return out


def _module_list(jar, deps_file):
    """The modules ``jar`` needs (jdeps), written to ``deps_file`` unless it is there."""
    if not deps_file.exists():
        import tempfile
        import zipfile
        with tempfile.TemporaryDirectory() as tmp:
            # The shaded jar carries its dependencies' module-info.class (META-INF/versions/11/...):
            # jdeps would take the whole jar for that one module and report its requires (java.base)
            # only. Without them, jdeps reads every class.
            plain = Path(tmp) / "classes.jar"
            with zipfile.ZipFile(jar) as src, zipfile.ZipFile(plain, "w") as dst:
                for entry in src.infolist():
                    if not entry.filename.endswith("module-info.class"):
                        dst.writestr(entry, src.read(entry))
            r = subprocess.run(["jdeps", "--ignore-missing-deps", "--print-module-deps", "--multi-release", "17",
                                str(plain)], capture_output=True, text=True, timeout=600)
        if r.returncode != 0 or not r.stdout.strip():
            raise RuntimeError(f"jdeps found no module list in {jar}: {r.stderr.strip()[-500:]}")
        mods = r.stdout.strip().splitlines()[-1]
        # Named at run time only (TLS curves, DNS, JMX-less management): jdeps cannot see them.
        mods = ",".join(sorted(set(filter(None, mods.split(","))) | {"jdk.crypto.ec", "jdk.naming.dns",
                                                                       "jdk.zipfs", "java.naming"}))
        _publish_file(deps_file, mods.encode())


def _jlink(mods, out):
    """The runtime of ``mods`` at ``out`` unless it is there."""
    if not out.exists():
        tmp = _private_tmp(out)
        shutil.rmtree(tmp, ignore_errors=True)  # a killed build's, under a reused pid
        subprocess.run(["jlink", "--add-modules", mods, "--strip-debug", "--no-man-pages", "--no-header-files",
                        "--compress=2", "--add-options=" + " ".join(RUNTIME_OPTIONS), "--output", str(tmp)],
                       check=True, capture_output=True, timeout=600)
        tmp.replace(out)  # alone: _one_builder holds the lock


@contextlib.contextmanager
def _one_builder(out):
    """Held while ``out`` is built: labs starting at once (a parallel test run, the hosts of one
    lab) would each build the same cached file, at the moment CPU is scarcest; the others wait,
    then find it made."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_name(out.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _private_tmp(out):
    """Where this thread builds ``out`` before publishing it: labs starting at once (a parallel
    test run), and the hosts of one lab (threads of one process), build the same cached file side
    by side, each in its own, and the last rename wins."""
    return out.with_name(f"{out.name}.{os.getpid()}-{threading.get_ident()}.tmp")


def _publish_file(out, data):
    tmp = _private_tmp(out)
    tmp.write_bytes(data)
    tmp.replace(out)


def shared_libraries(runtime):
    """Host files (with the dynamic loader) that the runtime's executables and libraries link."""
    libs = set()
    for f in list(Path(runtime).rglob("*.so")) + [Path(runtime) / "bin" / "java"]:
        r = subprocess.run(["ldd", str(f)], capture_output=True, text=True)
        for line in r.stdout.splitlines():
            parts = line.split()
            path = parts[2] if "=>" in parts and len(parts) > 2 else parts[0] if parts and parts[0].startswith("/") else None
            if path and path.startswith("/") and not path.startswith(str(runtime)):
                libs.add(path)
    return sorted(libs)


def account_service_image(tools, jar, tag, cache_dir, chart_dir):
    runtime = java_runtime(jar, cache_dir)
    files = {"/usr/local/java": runtime, "/usr/local/app/authctl.jar": jar,
             "/usr/local/bin/authctl": tools["JARLAUNCHER_BIN"]}
    for lib in shared_libraries(runtime):
        files[lib] = os.path.realpath(lib)
    return Image(runtime_name(chart_repositories(chart_dir)[1], tag), files, entrypoint=["authctl"], user="10001")


def dex_web_assets(versions):
    """Dex's own web/ folder from the Go module cache (the module the toolchain built dex from)."""
    modcache = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True).stdout.strip()
    if not modcache:
        return None
    for d in sorted(Path(modcache, "github.com", "dexidp").glob("dex@*")):
        if d.name.endswith(versions["DEX_COMMIT"]) and (d / "web").is_dir():
            return d / "web"
    return None


def build(image, cache_dir):
    """The cached layout tar of ``image`` (built when its inputs changed)."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    safe = image.name.replace("/", "_").replace(":", "_")
    out = cache_dir / f"{safe}-{image.key()}.tar"
    with _one_builder(out):
        if not out.exists():
            image.write_layout(out)
    return out


def import_image(ctr, socket, layout):
    """Imports a layout tar into containerd's Kubernetes namespace (CRI sees it at once)."""
    r = subprocess.run([ctr, "-a", str(Path(socket).resolve()), "-n", "k8s.io", "images", "import", str(layout)],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"ctr images import {layout.name} failed: {r.stderr.strip()}")
