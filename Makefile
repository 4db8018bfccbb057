# ecomrel: `make demo` runs the recipe on the demo config (LM=1: the causal-LM demo, QUICK=1: a pipeline check on a
# tiny model), `make test` runs the CPU test suite.
# Both set up .venv first when needed (torch's CPU wheel goes in before anything that depends on torch).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export ECOMREL_CACHE ?= $(HOME)/.cache/ecomrel
export TORCH_EXTENSIONS_DIR ?= $(ECOMREL_CACHE)/torch_extensions

QUICK ?=
LM ?=
DEMO_CONFIG := $(if $(QUICK),configs/demo-quick.yaml,$(if $(LM),configs/demo-lm.yaml,configs/demo.yaml))
PYTEST_ARGS ?=

.PHONY: setup promtool test test-all demo lint bench clean

setup: $(STAMP) promtool

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# promtool (in Debian's prometheus package) runs the alert rules' unit tests: installed when missing, where apt is.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
promtool:
	@command -v promtool >/dev/null || ! command -v apt-get >/dev/null || { $(SUDO) apt-get update -qq && \
	  $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; }

test: $(STAMP) promtool
	$(BIN)/pytest tests/cpu -m "not slow and not gpu" $(PYTEST_ARGS)

test-all: $(STAMP) promtool
	$(BIN)/pytest tests/cpu $(PYTEST_ARGS)

demo: $(STAMP)
ifeq ($(QUICK),)
	$(BIN)/ecomrel models materialize gemma3-270m
	$(BIN)/ecomrel models materialize multilingual-e5-small
else
	$(BIN)/ecomrel models build-tiny --out $(ECOMREL_CACHE)/models/tiny-qwen3
endif
	$(BIN)/ecomrel run --config $(DEMO_CONFIG)

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf runs .pytest_cache
