# Thin wrappers over npm scripts; the README's two commands work without make too.
.PHONY: image test lint bench schema clean

node_modules: package-lock.json
	npm ci
	@touch node_modules

image: node_modules
	npm run build
	node dist/src/cli.js control-plane

test: node_modules
	npm test

lint: node_modules
	npm run lint

bench: node_modules
	npm run bench

schema: node_modules
	npm run build
	node dist/src/cli.js schema profile > schema/profile.schema.json
	node dist/src/cli.js schema cluster > schema/cluster.schema.json

clean:
	rm -rf dist out
