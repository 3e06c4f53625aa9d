# intentmeta: every command a newcomer needs. `make demo` and `make test` set up .venv themselves.
VENV      := .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
PORT      ?= 7860
DATA      ?= ../shared/data

.PHONY: install test demo lint format bench eval train train-encoder eval-encoder chromium java clean

# torch==2.13.0 first: it is the CPU build on this disk, and installing it before the project stops
# pip from pulling a multi-GB CUDA build to satisfy `torch`.
$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[all,dev]"
	touch $(STAMP)

install: $(STAMP)

# Browser tests drive Debian's chromium (playwright cannot download browsers here).
chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium)

# Spark tests need a Java 17 runtime: Debian's, unless one is already on the PATH (Debian 13 has
# no 17; Spark 4 runs on its 21 too).
java:
	@command -v java >/dev/null 2>&1 || (apt-get update -qq && \
		(apt-get install -y -qq openjdk-17-jre-headless || apt-get install -y -qq openjdk-21-jre-headless))

test: install chromium java
	$(PY) -m pytest -q

demo: install
	$(VENV)/bin/intentmeta demo --port $(PORT)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install java
	$(PY) benchmarks/run_all.py --data $(DATA)

eval: install
	$(PY) training/evaluate_benchmarks.py --data $(DATA) --out results --plot docs/accuracy_vs_shots.png
	$(PY) training/evaluate_out_of_scope.py --data $(DATA)/clinc150 --split test --plot docs/reliability_diagram.png
	$(PY) training/evaluate_open_intent.py --data $(DATA) --shots 10 --out results/open/main

train: install
	bash training/train_all.sh $(DATA)

# Meta-train the sentence encoder on both data sets' train splits with the shipped recipe
# (BENCHMARKS.md, "Meta-learned encoder"); ENCODER_OUT receives a Hugging Face model directory,
# which `python training/ship_encoder.py $(ENCODER_OUT)` copies into the package.
ENCODER_OUT ?= results/intentmeta-minilm
train-encoder: install
	$(VENV)/bin/intentmeta train --encoder --data $(DATA)/banking77 --data $(DATA)/clinc150 \
		--half --out $(ENCODER_OUT)

# Leave-one-data-set-out: one encoder per held-out data set, then the test table.
eval-encoder: install
	$(VENV)/bin/intentmeta train --encoder --data $(DATA)/clinc150 --out results/encoder-without-banking77
	$(VENV)/bin/intentmeta train --encoder --data $(DATA)/banking77 --out results/encoder-without-clinc150
	$(PY) training/evaluate_encoder_transfer.py --data $(DATA) --setting test \
		--banking77-encoder results/encoder-without-banking77 \
		--clinc150-encoder results/encoder-without-clinc150 --out results/encoder_transfer.json \
		--methods logistic_regression prototypical default default+names

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache results
