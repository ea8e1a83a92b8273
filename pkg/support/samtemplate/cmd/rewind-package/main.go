// Command rewind-package is `make package`: what a CloudFormation StackSet deploys, since StackSets
// with service-managed permissions do not run the SAM transform. It writes the function's zip and
// template.yaml translated into plain CloudFormation by AWS's SAM translator. See
// samtemplate.StackSetTemplate and docs/organizations.md.
//
//	go run ./pkg/support/samtemplate/cmd/rewind-package [-template template.yaml] [-bootstrap .build/bootstrap] [-out .build]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rewind-sre/rewind/pkg/support/samtemplate"
)

func main() {
	tpl := flag.String("template", "template.yaml", "the SAM template")
	bootstrap := flag.String("bootstrap", filepath.Join(".build", "bootstrap"), "the built function (make build)")
	out := flag.String("out", ".build", "where rewind.zip and stackset-template.json go")
	flag.Parse()
	if err := run(*tpl, *bootstrap, *out); err != nil {
		fmt.Fprintln(os.Stderr, "rewind-package:", err)
		os.Exit(1)
	}
}

func run(tpl, bootstrap, out string) error {
	python, err := samtemplate.SAMPython()
	if err != nil {
		return err
	}
	body, err := samtemplate.StackSetTemplate(context.Background(), python, tpl)
	if err != nil {
		return err
	}
	zipPath, tplPath := filepath.Join(out, "rewind.zip"), filepath.Join(out, "stackset-template.json")
	if err := samtemplate.ZipBootstrap(bootstrap, zipPath); err != nil {
		return err
	}
	if err := os.WriteFile(tplPath, body, 0o644); err != nil {
		return err
	}
	if len(body) > samtemplate.MaxTemplateURL {
		return fmt.Errorf("%s is %d bytes: a StackSet takes at most %d from S3", tplPath, len(body), samtemplate.MaxTemplateURL)
	}
	fmt.Printf("%s (the function; upload it to every region's CodeBucketPrefix-REGION bucket)\n", zipPath)
	fmt.Printf("%s (%d bytes; the template a StackSet deploys, through --template-url)\n", tplPath, len(body))
	return nil
}
