# Zoe — the targets the README names.
.PHONY: run test lint generate bench images build assets

GO ?= go

## run: Zoe on http://localhost:8080 with the embedded store, the sample shop and the local Docker engine
run:
	scripts/run.sh

## test: every test, with its own private Docker engines and PostgreSQL
test:
	scripts/test.sh

## lint: gofmt, go vet, staticcheck, and generated files up to date
lint:
	scripts/lint.sh

## generate: templ views
generate:
	$(GO) tool templ generate

## build: the zoe binary
build:
	$(GO) build -o zoe ./cmd/zoe

## bench: benchmarks (results in docs/benchmarks.md)
bench:
	scripts/bench.sh

## images: the images of the sample ZApps, built locally (no registry needed)
images:
	scripts/images.sh

## assets: refresh the vendored front-end assets in static/ from npm
assets:
	scripts/assets.sh
