# The two entry points: `make demo` (a local state data centre) and `make test` (everything CI runs).
# Both install or build what they need: protoc, rustfmt/clippy, and the harness' Kubernetes and etcd
# binaries (cached outside the work tree, see e2e/scripts/build-harness.sh).

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
CARGO ?= cargo
HARNESS := e2e/scripts/build-harness.sh
TEST_TOOLS := e2e/scripts/build-tools.sh

BENCH_TENANTS ?= 500

# A one-off build (CI, a fresh clone) gains nothing from incremental caches, which are the bulk of
# target/; export CARGO_INCREMENTAL=1 to keep them while iterating.
export CARGO_INCREMENTAL ?= 0

.PHONY: test demo images tools harness test-tools crds chart policies prometheus-rules bench

## test: format check, clippy with -D warnings, then every unit, integration and e2e test
test: tools harness test-tools
	@echo "==> cargo fmt --check"
	$(CARGO) fmt --all --check
	@echo "==> buf lint (proto/)"
	e2e/scripts/buf-lint.sh
	@echo "==> cargo clippy -D warnings"
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	@echo "==> cargo test (unit, integration and e2e against real control planes)"
	mkdir -p target
	SOBERANA_HARNESS_BIN="$$($(HARNESS))" SOBERANA_TOOLS_BIN="$$($(TEST_TOOLS))" $(CARGO) test --workspace --locked 2>&1 | tee target/test-output.log
	@awk '/^test result:/ { for (i = 2; i <= NF; i++) { if ($$i ~ /^passed/) passed += $$(i-1); if ($$i ~ /^failed/) failed += $$(i-1) } } \
	  END { printf "tests: %d passed, %d failed\n", passed, failed }' target/test-output.log

## demo: a local state data centre (mgmt + one cluster per example site) with the operator, until Ctrl-C
demo: tools harness
	$(CARGO) build --locked -p soberana-operator -p soberana-api -p soberana-cli --bins
	SOBERANA_HARNESS_BIN="$$($(HARNESS))" $(CARGO) run --locked -p soberana-e2e --bin soberana-demo -- $(DEMO_ARGS)

## images: OCI image archives (operator, API, CLI, example-http, pause) in target/images/, reproducibly and with no daemon; see docs/images.md
images: tools
	images/build.sh

## tools: check and install protoc, rustfmt and clippy
tools:
	@e2e/scripts/ensure-tools.sh

## harness: build etcd, kube-apiserver, kube-controller-manager and kubectl from their Go modules
harness:
	@$(HARNESS) >/dev/null

## test-tools: build helm, kubeconform, promtool and prometheus from their Go modules (chart and SLO tests)
test-tools:
	@$(TEST_TOOLS) >/dev/null

## crds: regenerate crds/ and the chart's CRD templates (charts/soberana/templates/crds/) from the Rust types in core/src/resources
crds:
	$(CARGO) run --locked -q -p soberana-operator --bin crdgen

## chart: regenerate the chart's CRDs and the reviewed snapshot of its default rendering (CRDs aside), e2e/tests/snapshots/chart-default.yaml
chart: crds test-tools
	mkdir -p e2e/tests/snapshots
	"$$($(TEST_TOOLS))/helm" template soberana charts/soberana --namespace soberana-system \
	  --kube-version 1.36.3 --set crds.enabled=false > e2e/tests/snapshots/chart-default.yaml

## policies: regenerate the reviewed snapshots: each example site's compiled admission policies, and `evaluate -o json` over examples/
policies:
	$(CARGO) build --locked -q -p soberana-cli --bin soberana
	mkdir -p cli/tests/snapshots
	for site in $$(grep -A2 '^kind: Site' examples/sites.yaml | awk '/^  name:/ { print $$2 }'); do \
	  target/debug/soberana policies --site "$$site" -f examples/ > "cli/tests/snapshots/residency-$$site.yaml"; \
	done
	target/debug/soberana evaluate -o json -f examples/ > cli/tests/snapshots/evaluate-examples.json || [ $$? -eq 1 ]

## prometheus-rules: regenerate the chart's PrometheusRule rules (the API's SLOs and the Soberana-wide alerts, which need no objects)
prometheus-rules:
	mkdir -p charts/soberana/files
	$(CARGO) run --locked -q -p soberana-cli --bin soberana -- slo rules --only platform > charts/soberana/files/prometheus-rules.yaml

## bench: engine vs Rego, what-if vs re-evaluating everything, operator vs a plain write loop, API Evaluate vs a bare tonic server; figures go in BENCHMARKS.md
bench: harness
	$(CARGO) bench --locked -p soberana-core --bench placement_vs_rego
	$(CARGO) bench --locked -p soberana-core --bench what_if
	SOBERANA_HARNESS_BIN="$$($(HARNESS))" $(CARGO) bench --locked -p soberana-operator --bench provisioning -- $(BENCH_TENANTS)
	SOBERANA_HARNESS_BIN="$$($(HARNESS))" $(CARGO) bench --locked -p soberana-operator --bench workload_memory -- 1000
	SOBERANA_HARNESS_BIN="$$($(HARNESS))" $(CARGO) bench --locked -p soberana-api --bench evaluate_vs_echo
