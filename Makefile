# Far Mesh — the README's two commands:
#   make demo   set everything up and run the mesh locally on embedded defaults
#   make test   set everything up and run every test (Python and TypeScript)
# Everything is installed by the project's own files into .venv (server + SDK + dev tools),
# .venv-node (far-node: Petals' pins clash with the rest) and node_modules (npm workspace).

PYTHON ?= python3
VENV := .venv
NODE_VENV := .venv-node
GGUF_VENV := .venv-gguf
PY := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest

.PHONY: setup demo test lint clean

setup: $(VENV)/.stamp $(NODE_VENV)/.farlabs-node-stamp node_modules/.stamp

$(VENV)/.stamp: pyproject.toml reference-server/pyproject.toml reference-server/protocol/pyproject.toml \
		reference-server/devtools/pyproject.toml python-sdk/pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -U "pip>=25.1"
	$(PY) -m pip install -q --disable-pip-version-check --group dev -e ./reference-server/protocol -e ./reference-server \
		-e ./reference-server/devtools -e ./python-sdk
	@touch $@

# The script keeps its own stamp and is a no-op when up to date.
$(NODE_VENV)/.farlabs-node-stamp: node-kit/scripts/setup-venv.sh node-kit/pyproject.toml reference-server/protocol/pyproject.toml
	PYTHON=$(PYTHON) node-kit/scripts/setup-venv.sh $(NODE_VENV)

# Only for node-kit's GGUF parity test (transformers new enough to read GGUF; torch pinned to the CPU build).
$(GGUF_VENV)/.stamp: node-kit/scripts/gguf-check-requirements.txt
	@test -x $(GGUF_VENV)/bin/python || $(PYTHON) -m venv $(GGUF_VENV)
	$(GGUF_VENV)/bin/python -m pip install -q --disable-pip-version-check -r node-kit/scripts/gguf-check-requirements.txt
	@touch $@

node_modules/.stamp: package.json package-lock.json ts-sdk/package.json
	npm ci --no-audit --no-fund
	@touch $@

demo: setup
	$(PY) -m farlabs_devtools.demo --node-venv $(NODE_VENV)

# Every suite runs even if an earlier one failed; the target fails if any did.
test: setup $(GGUF_VENV)/.stamp
	@status=0; \
	$(PYTEST) reference-server/tests || status=1; \
	$(PYTEST) reference-server/protocol/tests || status=1; \
	$(PYTEST) python-sdk/tests || status=1; \
	$(PYTEST) python-sdk/tests_live || status=1; \
	FARLABS_GGUF_PYTHON=$(CURDIR)/$(GGUF_VENV)/bin/python $(NODE_VENV)/bin/pytest node-kit/tests || status=1; \
	$(PYTEST) tests || status=1; \
	npm test --workspaces --if-present || status=1; \
	command -v chromium >/dev/null || command -v chromium-browser >/dev/null || [ -n "$$FARLABS_CHROMIUM" ] || \
		echo "*** NOTE: no Chromium on this machine: the dashboard's browser test was SKIPPED (apt-get install chromium) ***"; \
	exit $$status

# node-kit is type-checked against its own environment's packages (torch, Petals, hivemind), with a cache of its own
# so that the two mypy runs do not keep invalidating each other's.
lint: setup
	$(VENV)/bin/ruff check reference-server python-sdk node-kit tests bench
	$(VENV)/bin/mypy reference-server/src reference-server/protocol/src reference-server/devtools/src python-sdk/src
	$(VENV)/bin/mypy --python-executable $(NODE_VENV)/bin/python --cache-dir .mypy_cache/node-kit node-kit/src

clean:
	rm -rf $(VENV) $(NODE_VENV) $(GGUF_VENV) node_modules ts-sdk/node_modules ts-sdk/dist
