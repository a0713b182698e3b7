"""The deploy/ manifests: every YAML parses (yaml.safe_load_all), and the fields that make the
sidecar work are right — images, the loopback listener, the admin port and probe paths, env
names and flags that mcbridge really has (read from config/options.cc), secrets mounted where
the flags point. Finally the mcbridge container of each manifest is started for real with its
own args and env (paths and ports swapped for local ones) to prove the configuration is
accepted."""

import json
import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

import servers  # noqa: E402

REPO = servers.REPO_ROOT
DEPLOY = REPO / "deploy"
ADMIN_PORT = 9100
MC_PORT = 11211


# --------------------------------------------------------------------------- helpers

def _options():
    """{flag name: env name} from the options table, plus --config/MCBRIDGE_CONFIG."""
    src = (REPO / "config" / "options.cc").read_text()
    rows = re.findall(r'\{"([a-z][a-z-]*)", "([A-Z][A-Z_]*)",', src)
    assert len(rows) >= 20, "could not read the options table from config/options.cc"
    opts = dict(rows)
    opts["config"] = "MCBRIDGE_CONFIG"
    return opts


OPTIONS = _options()
ENV_NAMES = set(OPTIONS.values())


def _yaml_files():
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())


def _docs(path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def _pod_spec(doc):
    kind = doc.get("kind")
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        return doc["spec"]["template"]["spec"]
    if kind == "Pod":
        return doc["spec"]
    if kind == "Service" and str(doc.get("apiVersion", "")).startswith("serving.knative.dev"):
        return doc["spec"]["template"]["spec"]
    return None


def _containers(pod):
    return list(pod.get("containers") or []) + list(pod.get("initContainers") or [])


def _is_mcbridge(c):
    return c.get("name") == "mcbridge" or "/mcbridge" in str(c.get("image", "")).split(":")[0]


def _args(c):
    """The container's args as a list of (flag name, value) pairs."""
    raw = list(c.get("command") or [])[1:] if c.get("command") else []
    raw += [str(a) for a in (c.get("args") or [])]
    out, i = [], 0
    while i < len(raw):
        a = raw[i]
        assert a.startswith("--"), f"unexpected argument {a!r}"
        if "=" in a:
            name, value = a[2:].split("=", 1)
        elif i + 1 < len(raw) and not raw[i + 1].startswith("--"):
            name, value = a[2:], raw[i + 1]
            i += 1
        else:
            name, value = a[2:], None
        out.append((name, value))
        i += 1
    return out


def _arg(c, name):
    vals = [v for n, v in _args(c) if n == name]
    return vals[-1] if vals else None


def _probe_port(c, probe):
    port = probe["httpGet"]["port"]
    if isinstance(port, str):
        named = {p["name"]: p["containerPort"] for p in c.get("ports") or [] if "name" in p}
        assert port in named, f"probe port {port!r} is not a named port of {c['name']}"
        port = named[port]
    return port


def _env_names(c):
    return [e["name"] for e in c.get("env") or []]


def _mount_for(c, path):
    """The volumeMount whose mountPath holds `path`, and the file name below it."""
    for m in c.get("volumeMounts") or []:
        mp = m["mountPath"].rstrip("/") + "/"
        if path.startswith(mp):
            return m, path[len(mp):]
    return None, None


def _check_mcbridge_container(c, pod, where):
    img = c.get("image")
    assert isinstance(img, str) and img and "mcbridge" in img, (where, img)
    assert not img.endswith(":latest") and ":" in img.rsplit("/", 1)[-1], \
        f"{where}: pin the mcbridge image to a version, not {img!r}"
    for name, _ in _args(c):
        assert name in OPTIONS, f"{where}: mcbridge has no --{name}"
    for env in _env_names(c):
        assert env in ENV_NAMES, f"{where}: mcbridge reads no {env} (not in config/options.cc)"
    # the memcache listener is loopback only: containers of a pod/instance share localhost;
    # only a shared service listens on all interfaces, and then it requires client auth
    if _arg(c, "auth-file"):
        assert _arg(c, "listen") == f"0.0.0.0:{MC_PORT}", (where, _arg(c, "listen"))
    else:
        assert _arg(c, "listen") == f"127.0.0.1:{MC_PORT}", (where, _arg(c, "listen"))
    admin = _arg(c, "admin")
    assert admin and admin.endswith(f":{ADMIN_PORT}"), (where, admin)
    # the env carries where Redis is
    assert {"REDISHOST", "REDISPORT"} <= set(_env_names(c)) or _arg(c, "redis"), where
    # secrets: the files the flags name are mounted from a secret volume
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    for flag in ("redis-password-file", "redis-ca-file", "auth-file"):
        path = _arg(c, flag)
        if path is None:
            continue
        m, rel = _mount_for(c, path)
        assert m, f"{where}: --{flag} {path} is not under any volumeMount"
        vol = volumes.get(m["name"])
        assert vol, f"{where}: volume {m['name']} missing"
        if flag == "redis-password-file" and "emptyDir" in vol:
            # an IAM access token written by a refresher container of the same pod
            writers = [x for x in (pod.get("initContainers") or []) + (pod.get("containers") or [])
                       if x is not c and any(vm["name"] == m["name"] and not vm.get("readOnly")
                                             for vm in x.get("volumeMounts") or [])]
            assert writers, f"{where}: nothing writes the token volume {m['name']}"
            continue
        src = vol.get("secret") or vol.get("configMap")
        assert src, f"{where}: {m['name']} is not a secret/configMap volume"
        if src.get("items"):
            assert rel in [it["path"] for it in src["items"]], \
                f"{where}: --{flag} names {rel!r}, the volume provides " \
                f"{[it['path'] for it in src['items']]}"
    return c


# --------------------------------------------------------------------------- all YAML

def test_deploy_has_the_expected_manifests():
    for rel in ["kubernetes/sidecar.yaml", "cloudrun/service.yaml", "appengine/README.md",
                "appengine/app.yaml", "appengine/entrypoint.sh", "shared/mcbridge.yaml",
                "shared/app.yaml"]:
        assert (DEPLOY / rel).is_file(), rel


@pytest.mark.parametrize("path", _yaml_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_parses(path):
    docs = _docs(path)
    assert docs, f"{path} has no documents"
    for d in docs:
        assert isinstance(d, dict), f"{path}: a document is not a mapping"
    text = path.read_text()
    assert "\t" not in text, f"{path} contains tabs"


@pytest.mark.parametrize("path", _yaml_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_container_image_and_mcbridge_settings(path):
    for doc in _docs(path):
        pod = _pod_spec(doc)
        if pod is None:
            continue
        for c in _containers(pod):
            assert isinstance(c.get("image"), str) and c["image"].strip(), (path, c.get("name"))
            assert c.get("name"), path
            if _is_mcbridge(c):
                _check_mcbridge_container(c, pod, f"{path.name}:{c['name']}")


# --------------------------------------------------------------------------- Kubernetes

def _k8s():
    docs = _docs(DEPLOY / "kubernetes" / "sidecar.yaml")
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    return docs, by_kind


def test_kubernetes_sidecar_deployment():
    docs, by_kind = _k8s()
    assert len(by_kind.get("Deployment", [])) == 1
    dep = by_kind["Deployment"][0]
    assert dep["apiVersion"] == "apps/v1"
    sel = dep["spec"]["selector"]["matchLabels"]
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in sel.items()), "selector does not match the pod"
    pod = dep["spec"]["template"]["spec"]
    mcb = [c for c in _containers(pod) if _is_mcbridge(c)]
    apps = [c for c in pod["containers"] if not _is_mcbridge(c)]
    assert len(mcb) == 1 and apps, "want one mcbridge sidecar and an app container"
    c = mcb[0]
    if c in (pod.get("initContainers") or []):
        assert c.get("restartPolicy") == "Always", "an init container must be a native sidecar"
        assert c.get("startupProbe"), "native sidecar without startupProbe: the app starts early"
    # probes: the kubelet probes the pod IP, so the admin endpoint listens on all interfaces
    assert _arg(c, "admin") == f"0.0.0.0:{ADMIN_PORT}"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        if probe in c:
            assert _probe_port(c, c[probe]) == ADMIN_PORT, probe
    # resources
    res = c["resources"]
    assert res["requests"]["cpu"] and res["requests"]["memory"] and res["limits"]["memory"]
    # security
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert "ALL" in sc["capabilities"]["drop"]
    assert isinstance(sc.get("runAsUser"), int) and sc["runAsUser"] > 0, \
        "a numeric runAsUser (the image's USER is a name, runAsNonRoot cannot verify it)"
    # REDISHOST/REDISPORT from a ConfigMap defined in the file with those keys
    cms = {d["metadata"]["name"]: d for d in by_kind.get("ConfigMap", [])}
    for env in c["env"]:
        ref = (env.get("valueFrom") or {}).get("configMapKeyRef")
        if env["name"] in ("REDISHOST", "REDISPORT"):
            assert ref, f"{env['name']} should come from a ConfigMap"
            assert ref["name"] in cms and ref["key"] in cms[ref["name"]]["data"], ref
    port = cms[[e for e in c["env"] if e["name"] == "REDISPORT"][0]["valueFrom"]
               ["configMapKeyRef"]["name"]]["data"]["REDISPORT"]
    assert str(port).isdigit()
    # the AUTH password from a Secret mounted as a file, the CA for rediss:// too
    assert _arg(c, "redis-password-file") and _arg(c, "redis-ca-file")
    secrets = {d["metadata"]["name"] for d in by_kind.get("Secret", [])}
    vols = {v["name"]: v for v in pod["volumes"]}
    for flag in ("redis-password-file", "redis-ca-file"):
        m, _ = _mount_for(c, _arg(c, flag))
        sec = vols[m["name"]].get("secret")
        assert sec and sec["secretName"] in secrets, (flag, m)
        assert m.get("readOnly") is True
    # secret files must be readable by the non-root user: fsGroup or a world-readable mode
    fs_group = (pod.get("securityContext") or {}).get("fsGroup")
    for v in vols.values():
        mode = (v.get("secret") or {}).get("defaultMode", 0o644)
        assert mode & 0o004 or (fs_group and mode & 0o040), (v["name"], oct(mode))
    # the app reaches the sidecar over localhost
    app_env = {e["name"]: e.get("value") for a in apps for e in a.get("env") or []}
    assert f"127.0.0.1:{MC_PORT}" in app_env.values()
    assert dep["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 10


# --------------------------------------------------------------------------- shared service

def _shared():
    by_kind = {}
    for d in _docs(DEPLOY / "shared" / "mcbridge.yaml"):
        by_kind.setdefault(d["kind"], []).append(d)
    return by_kind


def _selects(selector, labels):
    return selector and all(labels.get(k) == v for k, v in selector.items())


def test_shared_service_deployment():
    by_kind = _shared()
    assert len(by_kind["Deployment"]) == 1
    dep = by_kind["Deployment"][0]
    spec = dep["spec"]
    labels = spec["template"]["metadata"]["labels"]
    assert _selects(spec["selector"]["matchLabels"], labels)
    assert spec["replicas"] >= 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = spec["template"]["spec"]
    zones = [t for t in pod["topologySpreadConstraints"]
             if t["topologyKey"] == "topology.kubernetes.io/zone"]
    assert zones and zones[0]["whenUnsatisfiable"] == "DoNotSchedule"
    assert _selects(zones[0]["labelSelector"]["matchLabels"], labels)
    (c,) = [c for c in pod["containers"] if _is_mcbridge(c)]
    assert _arg(c, "listen") == f"0.0.0.0:{MC_PORT}" and _arg(c, "auth-file")
    assert _arg(c, "admin") == f"0.0.0.0:{ADMIN_PORT}"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert _probe_port(c, c[probe]) == ADMIN_PORT, probe
    res = c["resources"]
    assert res["requests"]["cpu"] and res["requests"]["memory"] and res["limits"]["memory"]
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False and "ALL" in sc["capabilities"]["drop"]
    # client credentials, Redis AUTH and CA: files from Secrets defined here
    secrets = {d["metadata"]["name"]: d for d in by_kind["Secret"]}
    vols = {v["name"]: v for v in pod["volumes"]}
    for flag in ("auth-file", "redis-password-file", "redis-ca-file"):
        m, rel = _mount_for(c, _arg(c, flag))
        sec = vols[m["name"]]["secret"]
        assert sec["secretName"] in secrets and m.get("readOnly") is True, flag
        assert rel in secrets[sec["secretName"]]["stringData"], (flag, rel)
    fs_group = (pod.get("securityContext") or {}).get("fsGroup")
    for v in vols.values():
        mode = v["secret"].get("defaultMode", 0o644)
        assert mode & 0o004 or (fs_group and mode & 0o040), (v["name"], oct(mode))
    # the auth file holds user:password lines
    line = secrets["mcbridge-clients"]["stringData"]["auth-file"]
    assert re.fullmatch(r"[^:\s]+:\S+", line.strip()), line
    # graceful drain: preStop (out of the LB) + mcbridge's drain fit in the grace period
    pre_stop = c["lifecycle"]["preStop"]["sleep"]["seconds"]
    drain_ms = int(_arg(c, "drain-timeout") or 5000)
    assert pod["terminationGracePeriodSeconds"] > pre_stop + drain_ms / 1000
    env = {e["name"]: e for e in c["env"]}
    assert env["MCBRIDGE_MISS_ON_ERROR"]["value"] == "true"
    cms = {d["metadata"]["name"]: d for d in by_kind["ConfigMap"]}
    for name in ("REDISHOST", "REDISPORT"):
        ref = env[name]["valueFrom"]["configMapKeyRef"]
        assert ref["key"] in cms[ref["name"]]["data"]


def test_shared_service_lb_pdb_hpa():
    by_kind = _shared()
    dep = by_kind["Deployment"][0]
    labels = dep["spec"]["template"]["metadata"]["labels"]
    (svc,) = by_kind["Service"]
    assert svc["spec"]["type"] == "LoadBalancer"
    assert svc["metadata"]["annotations"]["networking.gke.io/load-balancer-type"] == "Internal"
    assert _selects(svc["spec"]["selector"], labels)
    assert [p["port"] for p in svc["spec"]["ports"]] == [MC_PORT], "only memcache is exposed"
    named = {p["name"]: p["containerPort"] for p in dep["spec"]["template"]["spec"]
             ["containers"][0]["ports"]}
    assert named[svc["spec"]["ports"][0]["targetPort"]] == MC_PORT
    ranges = svc["spec"]["loadBalancerSourceRanges"]
    assert ranges and all(not r.startswith("0.0.0.0") for r in ranges)
    (pdb,) = by_kind["PodDisruptionBudget"]
    assert pdb["apiVersion"] == "policy/v1"
    assert _selects(pdb["spec"]["selector"]["matchLabels"], labels)
    (hpa,) = by_kind["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    ref = hpa["spec"]["scaleTargetRef"]
    assert (ref["kind"], ref["name"]) == ("Deployment", dep["metadata"]["name"])
    assert hpa["spec"]["minReplicas"] >= 2 and hpa["spec"]["maxReplicas"] > \
        hpa["spec"]["minReplicas"]
    # a voluntary disruption never takes the service below minAvailable, and leaves room
    assert 1 <= pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]


def test_shared_app_yaml_for_app_engine_standard():
    app = _docs(DEPLOY / "shared" / "app.yaml")[0]
    assert re.fullmatch(r"python3\d+", app["runtime"]) and "env" not in app
    conn = app["vpc_access_connector"]
    assert re.fullmatch(r"projects/[^/]+/locations/[^/]+/connectors/[^/]+", conn["name"])
    assert conn["egress_setting"] == "private-ranges-only"
    env = app["env_variables"]
    module_reads = set(re.findall(r"MCBRIDGE_[A-Z_]+", (
        REPO / "clients" / "python" / "mcbridge_appengine" / "_wire.py").read_text()))
    for name in env:
        assert name in module_reads, f"app.yaml sets {name}, which the module does not read"
    host, port = env["MCBRIDGE_ADDRESS"].rsplit(":", 1)
    svc = _shared()["Service"][0]
    assert host == svc["spec"]["loadBalancerIP"] and int(port) == MC_PORT
    assert env["MCBRIDGE_USERNAME"] == \
        _shared()["Secret"][0]["stringData"]["auth-file"].split(":")[0]


# --------------------------------------------------------------------------- Cloud Run

def test_cloudrun_multi_container_service():
    docs = _docs(DEPLOY / "cloudrun" / "service.yaml")
    assert len(docs) == 1
    svc = docs[0]
    assert svc["apiVersion"] == "serving.knative.dev/v1" and svc["kind"] == "Service"
    tmpl = svc["spec"]["template"]
    pod = tmpl["spec"]
    containers = pod["containers"]
    ingress = [c for c in containers if c.get("ports")]
    assert len(ingress) == 1, "Cloud Run wants exactly one ingress container (with ports)"
    assert not _is_mcbridge(ingress[0]), "the app is the ingress container, not mcbridge"
    mcb = [c for c in containers if _is_mcbridge(c)]
    assert len(mcb) == 1
    c = mcb[0]
    assert {"REDISHOST", "REDISPORT"} <= set(_env_names(c))
    assert c["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("startupProbe", "livenessProbe"):
        assert _probe_port(c, c[probe]) == ADMIN_PORT
    ann = tmpl["metadata"]["annotations"]
    deps = json.loads(ann["run.googleapis.com/container-dependencies"])
    names = {x["name"] for x in containers}
    assert all(k in names and set(v) <= names for k, v in deps.items()), deps
    assert "mcbridge" in deps.get(ingress[0]["name"], []), "the app must wait for mcbridge"
    assert ("run.googleapis.com/network-interfaces" in ann or
            "run.googleapis.com/vpc-access-connector" in ann), "no VPC path to Memorystore"
    if "run.googleapis.com/network-interfaces" in ann:
        json.loads(ann["run.googleapis.com/network-interfaces"])
    for x in containers:
        assert x["resources"]["limits"]["memory"]


# --------------------------------------------------------------------------- App Engine

def test_appengine_files():
    text = (DEPLOY / "appengine" / "README.md").read_text()
    for must in ["flexible", "standard", "Cloud Run", "Serverless VPC Access", "REDISHOST",
                 "REDISPORT", "runtime: custom", "supervisor"]:
        assert must.lower() in text.lower(), must
    app = _docs(DEPLOY / "appengine" / "app.yaml")[0]
    assert app["runtime"] == "custom" and app["env"] == "flex"
    env = app["env_variables"]
    assert "REDISHOST" in env and "REDISPORT" in env
    for name in env:
        if name.startswith("MCBRIDGE_") or name.startswith("REDIS"):
            assert name in ENV_NAMES, f"app.yaml sets {name}, which mcbridge does not read"
    script = DEPLOY / "appengine" / "entrypoint.sh"
    assert os.access(script, os.X_OK), "entrypoint.sh must be executable"
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=10)
    for flag in re.findall(r"mcbridge\s+((?:--[a-z-]+\s+\S+\s*)+)", script.read_text()):
        for name in re.findall(r"--([a-z-]+)", flag):
            assert name in OPTIONS, f"entrypoint.sh uses --{name}"


def test_docker_compose_env_names():
    compose = _docs(DEPLOY / "docker-compose.yml")[0]
    svc = compose["services"]["mcbridge"]
    for name in svc.get("environment") or {}:
        assert name in ENV_NAMES, name


# --------------------------------------------------------------------------- run them

def _manifest_mcbridge_containers():
    out = []
    for path in (DEPLOY / "kubernetes" / "sidecar.yaml", DEPLOY / "cloudrun" / "service.yaml",
                 DEPLOY / "shared" / "mcbridge.yaml"):
        for doc in _docs(path):
            pod = _pod_spec(doc)
            if pod:
                out += [(path.parent.name, c) for c in _containers(pod) if _is_mcbridge(c)]
    return out


@pytest.mark.parametrize("where,container", _manifest_mcbridge_containers(),
                         ids=lambda x: x if isinstance(x, str) else "")
def test_manifest_configuration_is_accepted_by_mcbridge(where, container, tmp_path):
    """mcbridge started with the manifest's args and env (file paths, ports and REDISHOST
    swapped for local ones, Redis answering TLS with the test CA): it starts, serves a
    set/get through the TLS Redis, answers the probes, and stops with 0 on SIGTERM."""
    if not servers.mcbridge_binary().is_file():
        pytest.skip("no mcbridge binary")
    certs = servers.make_tls_certs(tmp_path / "certs")
    auth = tmp_path / "auth"
    auth.write_text("manifest-pw\n")
    clients = tmp_path / "clients"
    clients.write_text("app1:client-pw\n")
    redis = servers.start_redis_tls(certs, extra_args=["--requirepass", "manifest-pw"])
    mc_port, admin_port = servers.free_port(), servers.free_port()
    try:
        args = []
        for name, value in _args(container):
            if name == "listen":
                value = f"127.0.0.1:{mc_port}"
            elif name == "admin":
                value = f"127.0.0.1:{admin_port}"
            elif name == "redis-password-file":
                value = str(auth)
            elif name == "redis-ca-file":
                value = str(certs["ca"])
            elif name == "auth-file":
                value = str(clients)
            args.append(f"--{name}" if value is None else f"--{name}={value}")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("MCBRIDGE_") and k not in ("REDISHOST", "REDISPORT")}
        for e in container.get("env") or []:
            env[e["name"]] = str(e.get("value", ""))
        env["REDISHOST"], env["REDISPORT"] = "127.0.0.1", str(redis.port)
        log = open(tmp_path / "mcbridge.log", "wb")
        proc = subprocess.Popen([str(servers.mcbridge_binary())] + args, env=env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            ok = servers.wait_for(lambda: proc.poll() is not None or
                                  servers.port_accepts(mc_port), 10)
            assert proc.poll() is None, \
                f"mcbridge exited {proc.returncode} with {shlex.join(args)}: " + \
                (tmp_path / "mcbridge.log").read_text()
            assert ok
            c = servers.RawConn(mc_port, timeout=5)
            if _arg(container, "auth-file"):
                # nothing is served before memcached's ASCII auth, then everything is
                c.send(b"get m\r\n")
                assert c.read_line(timeout=5).startswith(b"CLIENT_ERROR")
                c.close()
                c = servers.RawConn(mc_port, timeout=5)
                c.send(b"set auth 0 0 14\r\napp1 client-pw\r\n")
                assert c.read_line(timeout=5) == b"STORED\r\n"

            def stored():
                c.send(b"set m 0 0 2\r\nhi\r\n")
                return c.read_line(timeout=5) == b"STORED\r\n"
            assert servers.wait_for(stored, 5, 0.1), (tmp_path / "mcbridge.log").read_text()
            c.send(b"get m\r\n")
            assert c.read_get_reply() == b"VALUE m 0 2\r\nhi\r\nEND\r\n"
            c.close()
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                if probe in container:
                    path = container[probe]["httpGet"]["path"]
                    code = servers.wait_for(lambda: _http_status(admin_port, path) == 200, 5)
                    assert code, f"{probe} {path} not 200"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
            log.close()
    finally:
        redis.kill()


def _http_status(port, path):
    import socket
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.settimeout(2)
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            head = s.recv(64)
        return int(head.split(b" ")[1])
    except (OSError, ValueError, IndexError):
        return 0
