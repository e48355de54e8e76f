#!/bin/sh
# Rebuild the committed viewer assets (build/) from src/. Needs node >= 18 and npm;
# `make run` and `make test` never do: they use the committed build/.
#   cd equiguard/viewer/frontend && sh build.sh
set -eu
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
mkdir -p build/licenses
npx esbuild src/index.js --bundle --minify --format=esm --target=es2020 --legal-comments=none \
    --outfile=build/viewer.js
npx esbuild src/viewer.css --minify --outfile=build/viewer.css
cp node_modules/konva/LICENSE build/licenses/konva-LICENSE.txt
printf 'konva %s (MIT) - https://konvajs.org\n' "$(node -p "require('konva/package.json').version")" \
    > build/licenses/THIRD_PARTY.txt
ls -l build build/licenses
