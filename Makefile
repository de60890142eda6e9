# `make app` and `make test` set everything up on a fresh clone, then run.
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch, installed before the project so that `torch>=2.10` pulls nothing larger.
TORCH_PIN ?= torch==2.13.0

.PHONY: test test-slow app system-deps clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_PIN)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

system-deps:
	bash .ci/system-deps

test: system-deps $(VENV)/.installed
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS)

app: $(VENV)/.installed
	bash .ci/system-deps app
	$(VENV)/bin/resnet-studio $(ARGS)

test-slow: system-deps $(VENV)/.installed
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -m slow $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
