// Package readme holds the tests that execute the repository's README.md:
// the embedding program is compiled and run against an in-process
// emulator, and the CLI quick start runs in bash, in a temporary home,
// against the real xchat and xchatd binaries built by the README's install
// step. A change that breaks the README fails `make test`.
package readme
