// Package testdata holds the generated test models; `go generate
// ./testdata` rewrites testdata/models from internal/modelgen.
package testdata

//go:generate go run ../internal/cmd/genmodels -out models
