# Guardian — every target builds or refreshes .venv itself, so a fresh clone needs
# nothing but `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

export GUARDIAN_MODELS_DIR     ?= $(HOME)/.cache/guardian/models
export GUARDIAN_TEST_MEDIA_DIR ?= $(HOME)/.cache/guardian/test-media
export PIP_DISABLE_PIP_VERSION_CHECK := 1

PYTEST_ARGS ?= -n 2
DEMO_ARGS ?=
BENCH_FRAMES ?= 200

.PHONY: help venv models test-media lint format test unit integration e2e bench demo clean

help:
	@echo "make demo   - install, fetch the model and footage, run the whole system here"
	@echo "make test   - install, fetch models and test media, lint, run all tests"
	@echo "make bench  - run the benchmarks and print their JSON"
	@echo "make lint   - ruff + mypy strict + bandit + pip-audit (when PyPI's advisories are reachable)"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

models: venv
	$(BIN)/guardian models fetch --all

test-media:
	scripts/fetch-test-media

lint: venv
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/bandit -q -c bandit.yaml -r src
	scripts/pip-audit-check

format: venv
	$(BIN)/ruff check --fix src tests
	$(BIN)/ruff format src tests

test: venv models test-media lint
	scripts/ensure-services
	scripts/ensure-test-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

unit: venv
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

integration: venv models test-media
	scripts/ensure-services
	scripts/ensure-test-deps
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

e2e: venv models test-media
	scripts/ensure-test-deps
	$(BIN)/python -m pytest tests/e2e $(PYTEST_ARGS)

bench: venv models
	$(BIN)/guardian bench detect --frames $(BENCH_FRAMES) --json --model ssd-mobilenetv2-oidv4 --runtime openvino
	$(BIN)/guardian bench detect --frames $(BENCH_FRAMES) --json --model ssd-mobilenetv2-oidv4 --runtime onnxruntime
	$(BIN)/guardian bench detect --frames $(BENCH_FRAMES) --json --model nanodet-coco --runtime openvino
	$(BIN)/guardian bench detect --frames $(BENCH_FRAMES) --json --model centernet-coco --runtime openvino
	scripts/ensure-services
	$(BIN)/guardian bench ingest --db sqlite --json
	$(BIN)/guardian bench ingest --db postgres --json
	$(BIN)/guardian bench inventory --json
	$(BIN)/guardian bench camera --json
	$(BIN)/guardian bench link --json
	$(BIN)/guardian bench clips --json
	$(BIN)/guardian bench archive --json

# The whole system on this machine: control plane, relay, edge, a street camera and a
# simulated Pi (state in guardian-data/demo; DEMO_ARGS="--reset" starts over).
demo: venv test-media
	$(BIN)/guardian models fetch
	$(BIN)/guardian demo $(DEMO_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
