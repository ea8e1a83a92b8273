// Package docs holds the checks that keep README.md and docs/ true to the tree: every make target they
// name exists, and every relative link resolves. It has no code of its own.
package docs
