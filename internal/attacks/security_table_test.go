package attacks

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// SECURITY.md's "Attacks and defences" section has one table row per named
// attack: `name` | what the hostile server does | defence | test. The
// checks below keep it in step with the attack tables and the code: every
// attack has exactly one row, every row names an attack, each row's test
// column names TestAttacks/<name>, and every file:function it cites as a
// defence and every package test it cites still exists.

// securityDoc and repoRoot are relative to this package's directory (the
// working directory of its tests).
const (
	securityDoc    = "../../SECURITY.md"
	repoRoot       = "../.."
	attacksHeading = "## Attacks and defences"
)

var (
	// attackCell is a row's first cell: one backticked attack name.
	attackCell = regexp.MustCompile("^`([a-z0-9]+(?:-[a-z0-9]+)*)`$")
	// ticked finds the backticked tokens of a cell.
	ticked = regexp.MustCompile("`([^`]+)`")
	// defenceRef is file.go:Func or file.go:Type.Method, from the repo root.
	defenceRef = regexp.MustCompile(`^([a-z0-9_]+(?:/[a-z0-9_]+)*\.go):([A-Za-z_]\w*)(?:\.([A-Za-z_]\w*))?$`)
	// packageTestRef is a package path (from the repo root) and a test.
	packageTestRef = regexp.MustCompile(`^([a-z0-9_]+(?:/[a-z0-9_]+)*)\.(Test\w*)$`)
	// declaredCount is the sentence stating how many rows the table has.
	declaredCount = regexp.MustCompile(`one row for each of the (\d+) named attacks`)
)

// tableRow is one attack row of the section.
type tableRow struct {
	line                      int
	name, does, defence, test string
}

// attackSection returns the lines of the "Attacks and defences" section
// (numbered from 1 in the document) up to the next level-2 heading.
func attackSection(doc string) (lines []string, first int, err error) {
	all := strings.Split(doc, "\n")
	start := -1
	for i, l := range all {
		if strings.TrimSpace(l) == attacksHeading {
			start = i
			break
		}
	}
	if start < 0 {
		return nil, 0, fmt.Errorf("no %q section", attacksHeading)
	}
	end := len(all)
	for i := start + 1; i < len(all); i++ {
		if strings.HasPrefix(all[i], "## ") {
			end = i
			break
		}
	}
	return all[start:end], start + 1, nil
}

// parseAttackRows reads the attack rows of the section's tables. Header
// and separator rows are skipped; any other table row is an error.
func parseAttackRows(lines []string, first int) ([]tableRow, []error) {
	var rows []tableRow
	var errs []error
	for i, l := range lines {
		n := first + i
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "|") {
			continue
		}
		cells := strings.Split(strings.TrimSuffix(strings.TrimPrefix(l, "|"), "|"), "|")
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		switch {
		case len(cells) > 0 && cells[0] == "attack":
			continue // header
		case strings.Trim(strings.Join(cells, ""), "-: ") == "":
			continue // separator
		case len(cells) != 4:
			errs = append(errs, fmt.Errorf("SECURITY.md:%d: a row has %d cells, want 4 (attack | what the server does | defence | test)", n, len(cells)))
			continue
		}
		m := attackCell.FindStringSubmatch(cells[0])
		if m == nil {
			errs = append(errs, fmt.Errorf("SECURITY.md:%d: first cell %q is not a backticked attack name", n, cells[0]))
			continue
		}
		rows = append(rows, tableRow{line: n, name: m[1], does: cells[1], defence: cells[2], test: cells[3]})
	}
	return rows, errs
}

// checkAttackTable checks the section of doc against the attack names and
// the code under root, returning every discrepancy.
func checkAttackTable(doc string, names []string, root string) []error {
	lines, first, err := attackSection(doc)
	if err != nil {
		return []error{err}
	}
	rows, errs := parseAttackRows(lines, first)
	known := map[string]bool{}
	for _, n := range names {
		if known[n] {
			errs = append(errs, fmt.Errorf("attack %q is defined twice in the attack tables", n))
		}
		known[n] = true
	}
	if m := declaredCount.FindStringSubmatch(strings.Join(lines, " ")); m == nil {
		errs = append(errs, fmt.Errorf("the section does not say %q", "one row for each of the N named attacks"))
	} else if n, err := strconv.Atoi(m[1]); err != nil {
		errs = append(errs, fmt.Errorf("the section's row count %q: %w", m[1], err))
	} else if n != len(names) {
		errs = append(errs, fmt.Errorf("the section says it has %d rows; TestAttacks runs %d attacks", n, len(names)))
	}
	code := &codeIndex{root: root, files: map[string]*ast.File{}, tests: map[string]map[string]bool{}}
	row := map[string]int{}
	for _, r := range rows {
		if at, dup := row[r.name]; dup {
			errs = append(errs, fmt.Errorf("SECURITY.md:%d: attack %q has a row already (line %d)", r.line, r.name, at))
			continue
		}
		row[r.name] = r.line
		if !known[r.name] {
			errs = append(errs, fmt.Errorf("SECURITY.md:%d: row names attack %q, which no attack table defines", r.line, r.name))
		}
		errs = append(errs, checkRow(r, code)...)
	}
	for _, n := range names {
		if _, ok := row[n]; !ok {
			errs = append(errs, fmt.Errorf("attack %q has no row in SECURITY.md's %q tables", n, attacksHeading))
		}
	}
	return errs
}

// checkRow checks one row's cells and the code they cite.
func checkRow(r tableRow, code *codeIndex) []error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("SECURITY.md:%d (%s): "+format, append([]any{r.line, r.name}, a...)...))
	}
	if r.does == "" {
		bad("says nothing of what the server does")
	}
	defences := 0
	for _, m := range ticked.FindAllStringSubmatch(r.defence, -1) {
		ref := defenceRef.FindStringSubmatch(m[1])
		if ref == nil {
			continue // an error or type name, not a file:function
		}
		defences++
		if err := code.hasFunc(ref[1], ref[2], ref[3]); err != nil {
			bad("defence %s: %v", m[1], err)
		}
	}
	if defences == 0 {
		bad("the defence column names no file.go:function")
	}
	own := false
	for _, m := range ticked.FindAllStringSubmatch(r.test, -1) {
		if name, ok := strings.CutPrefix(m[1], "TestAttacks/"); ok {
			if name != r.name {
				bad("test %s is not this row's attack", m[1])
				continue
			}
			own = true
			continue
		}
		ref := packageTestRef.FindStringSubmatch(m[1])
		if ref == nil {
			bad("test %q is neither TestAttacks/<name> nor package.TestName", m[1])
			continue
		}
		if err := code.hasTest(ref[1], ref[2]); err != nil {
			bad("test %s: %v", m[1], err)
		}
	}
	if !own {
		bad("the test column does not name TestAttacks/%s", r.name)
	}
	return errs
}

// codeIndex looks declarations up in the repository's Go files, parsing
// each file once.
type codeIndex struct {
	root  string
	fset  token.FileSet
	files map[string]*ast.File
	tests map[string]map[string]bool // package dir -> test functions
}

func (c *codeIndex) parse(path string) (*ast.File, error) {
	if f, ok := c.files[path]; ok {
		return f, nil
	}
	f, err := parser.ParseFile(&c.fset, filepath.Join(c.root, filepath.FromSlash(path)), nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	c.files[path] = f
	return f, nil
}

// hasFunc reports whether file declares function name, or method name
// of type recv when method is set (then name is the type).
func (c *codeIndex) hasFunc(file, name, method string) error {
	f, err := c.parse(file)
	if err != nil {
		return err
	}
	recv, fn := "", name
	if method != "" {
		recv, fn = name, method
	}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if ok && fd.Name.Name == fn && receiverType(fd) == recv {
			return nil
		}
	}
	if recv != "" {
		return fmt.Errorf("%s declares no method %s.%s", file, recv, fn)
	}
	return fmt.Errorf("%s declares no function %s", file, fn)
}

// receiverType returns the type name of fd's receiver ("" for a function).
func receiverType(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return ""
	}
	t := fd.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name
	}
	return "?"
}

// hasTest reports whether package dir pkg has a test function name.
func (c *codeIndex) hasTest(pkg, name string) error {
	tests, ok := c.tests[pkg]
	if !ok {
		paths, err := filepath.Glob(filepath.Join(c.root, filepath.FromSlash(pkg), "*_test.go"))
		if err != nil {
			return err
		}
		if len(paths) == 0 {
			return fmt.Errorf("package %s has no test files", pkg)
		}
		tests = map[string]bool{}
		for _, p := range paths {
			rel, err := filepath.Rel(c.root, p)
			if err != nil {
				return err
			}
			f, err := c.parse(filepath.ToSlash(rel))
			if err != nil {
				return err
			}
			for _, d := range f.Decls {
				if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && strings.HasPrefix(fd.Name.Name, "Test") {
					tests[fd.Name.Name] = true
				}
			}
		}
		c.tests[pkg] = tests
	}
	if !tests[name] {
		return fmt.Errorf("package %s has no test %s", pkg, name)
	}
	return nil
}

// attackNames returns the names of every attack TestAttacks runs.
func attackNames() []string {
	var out []string
	for _, a := range allAttacks() {
		out = append(out, a.name)
	}
	return out
}

// TestSecurityTable fails when an attack of the tables has no row in
// SECURITY.md's "Attacks and defences" tables, a row names an attack that
// does not exist, or a row cites a defence or a test the code no longer
// has.
func TestSecurityTable(t *testing.T) {
	doc, err := os.ReadFile(securityDoc)
	if err != nil {
		t.Fatal(err)
	}
	names := attackNames()
	errs := checkAttackTable(string(doc), names, repoRoot)
	for _, err := range errs {
		t.Error(err)
	}
	if len(errs) == 0 {
		t.Logf("SECURITY.md: %d attack rows, one for each attack TestAttacks runs", len(names))
	}
}

// TestSecurityTableCatchesDrift runs the checks on altered copies of the
// section: each kind of drift must be caught, and only it.
func TestSecurityTableCatchesDrift(t *testing.T) {
	row := func(name, defence, test string) string {
		return fmt.Sprintf("| `%s` | serves something | %s | %s |", name, defence, test)
	}
	doc := func(count int, rows ...string) string {
		return strings.Join(append([]string{"# Security", "", attacksHeading, "",
			fmt.Sprintf("The tables have one row for each of the %d named attacks.", count), "",
			"| attack | what the hostile server does | defence | test |", "|---|---|---|---|"}, rows...), "\n") +
			"\n\n## Next section\n\n" + row("not-in-section", "`nowhere.go:f`", "`TestAttacks/x`") + "\n"
	}
	good := "`session/screen.go:gateDelete` (`ErrNotAuthorized`), `session/roster.go:rosterRec.step`"
	pkgTest := "`session.TestScreenEnvelope`"
	names := []string{"first-attack", "second-attack"}
	cases := []struct {
		name string
		doc  string
		want []string // substrings of the errors expected, one each
	}{
		{"in step", doc(2, row("first-attack", good, "`TestAttacks/first-attack`, "+pkgTest), row("second-attack", good, "`TestAttacks/second-attack`")), nil},
		{"attack without a row", doc(2, row("first-attack", good, "`TestAttacks/first-attack`")), []string{`"second-attack" has no row`}},
		{"row without an attack", doc(2, row("first-attack", good, "`TestAttacks/first-attack`"), row("second-attack", good, "`TestAttacks/second-attack`"),
			row("gone-attack", good, "`TestAttacks/gone-attack`")), []string{`"gone-attack", which no attack table defines`}},
		{"two rows", doc(2, row("first-attack", good, "`TestAttacks/first-attack`"), row("second-attack", good, "`TestAttacks/second-attack`"),
			row("first-attack", good, "`TestAttacks/first-attack`")), []string{`"first-attack" has a row already`}},
		{"stale count", doc(3, row("first-attack", good, "`TestAttacks/first-attack`"), row("second-attack", good, "`TestAttacks/second-attack`")),
			[]string{"says it has 3 rows; TestAttacks runs 2"}},
		{"stale defence", doc(2, row("first-attack", "`session/screen.go:gateNothing`", "`TestAttacks/first-attack`"), row("second-attack", "`session/roster.go:rosterRec.stepNothing`", "`TestAttacks/second-attack`")),
			[]string{"declares no function gateNothing", "declares no method rosterRec.stepNothing"}},
		{"no defence", doc(2, row("first-attack", "`ErrNotMember`", "`TestAttacks/first-attack`"), row("second-attack", good, "`TestAttacks/second-attack`")),
			[]string{"names no file.go:function"}},
		{"stale package test", doc(2, row("first-attack", good, "`TestAttacks/first-attack`, `session.TestNothing`"), row("second-attack", good, "`TestAttacks/second-attack`")),
			[]string{"package session has no test TestNothing"}},
		{"wrong attack test", doc(2, row("first-attack", good, "`TestAttacks/second-attack`"), row("second-attack", good, "`TestAttacks/second-attack`")),
			[]string{"is not this row's attack", "does not name TestAttacks/first-attack"}},
		{"malformed row", doc(2, row("first-attack", good, "`TestAttacks/first-attack`"), row("second-attack", good, "`TestAttacks/second-attack`"), "| `third` | too few |"),
			[]string{"a row has 2 cells"}},
		{"no section", "# Security\n", []string{"no \"## Attacks and defences\" section"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			errs := checkAttackTable(c.doc, names, repoRoot)
			got := errors.Join(errs...)
			if len(errs) != len(c.want) {
				t.Fatalf("%d errors, want %d (%q): %v", len(errs), len(c.want), c.want, got)
			}
			for _, w := range c.want {
				if got == nil || !strings.Contains(got.Error(), w) {
					t.Errorf("errors %v do not say %q", got, w)
				}
			}
		})
	}
}
