# `make app` and `make test` set everything up on a fresh clone, then run.
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch, installed before the project so that `torch>=2.10` pulls nothing larger.
TORCH_PIN ?= torch==2.13.0

.PHONY: test test-slow app system-deps clean why-residual

# pip's own progress shows: a first setup takes a minute or more, and a silent one looks hung.
$(VENV)/.installed: pyproject.toml
	@echo "Setting up $(VENV): the CPU build of torch, then ResNet Studio and its test tools."
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install --progress-bar on $(TORCH_PIN)
	$(PY) -m pip install --progress-bar on -e '.[dev,cluster]'
	touch $@

system-deps:
	bash .ci/system-deps

# Two workers, a test file each: the suite waits on child processes and windows about half the time.
test: system-deps $(VENV)/.installed
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

app: $(VENV)/.installed
	bash .ci/system-deps app
	$(VENV)/bin/resnet-studio $(ARGS)

test-slow: system-deps $(VENV)/.installed
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -n 2 --dist loadfile -m slow $(PYTEST_ARGS)

# He et al. (2015), Fig. 6 on Fashion-MNIST: plain and residual networks of 20 and 56 layers, one
# recipe. Hours on 2 cores; interrupted runs resume from runs/why-residual/NAME/last.pt.
WHY_RECIPE ?= --epochs 5 --weight-decay 1e-4 --seed 0
why-residual: $(VENV)/.installed
	for v in plain20 resnet20 plain56 resnet56; do \
	  out=runs/why-residual/$$v; resume=; [ -f $$out/last.pt ] && resume=--resume; \
	  $(VENV)/bin/resnet-studio train $$v $(WHY_RECIPE) --output $$out $$resume \
	    --export resources/$$v-fashion-mnist-5ep.onnx || exit 1; \
	done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
