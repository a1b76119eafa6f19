#!/usr/bin/env python3
"""Checks that the source files of a crate import each other without cycles.

Project rule (checked by CI): no import cycles between files, so the files
of a crate form layers and each can be read and changed knowing only the
files below it. Usage:

    scripts/module-cycles.py [--edges] [--dot] cache-runtime/src/lib.rs ...

Per crate: the number of files and edges, then `no cycles` or each strongly
connected component, with one reference per edge inside it (`a.rs:LINE ->
b.rs (via crate::x::Y)`): the imports to fix. Exit 1 if any crate has a
cycle. `--edges` lists every edge; `--dot` prints a Graphviz graph instead.

A lexical approximation of rustc's resolution: modules are followed from
the root through `mod name;`; comments and literals are blanked;
`#[cfg(test)]` modules are left out (tests may use anything); inline
modules belong to their file. Each `use` leaf and each code path starting
with `crate::`, `super::`, `self::` or a module name in scope resolves to
the file defining the item, through imports and globs (private ones too:
rustc checks visibility). What cannot be resolved (macro-generated or
external items) points at the file where resolution stopped. `mod child;`
is not an edge; `pub use self::child::X` is.

A type's inherent methods may be spread over several files, so calls
between them are edges too: inside an inherent `impl T` block, `self.m(`
points at the file whose inherent `impl T` block defines `m`, and so does
`T::m(` anywhere (when one file defines it; trait methods are not
followed).
"""
import bisect
import os
import re
import sys

IDENT = r'(?:r#)?[A-Za-z_]\w*'
LEX = re.compile(r'//[^\n]*|/\*|(?<!\w)[bc]?r(#*)"[\s\S]*?"\1|"(?:\\[\s\S]|[^"\\])*"'
                 r"|'(?:\\(?:[^']+|')|[^\\'\n])'")
ITEM = re.compile(r"(?<!')\b(?:struct|enum|union|trait|type|fn|const|static)\s+"
                  r"(?=(?:mut\s+)?(?:r#)?([A-Za-z_]\w*))|\bmacro_rules!\s*([A-Za-z_]\w*)")
MOD = re.compile(r'\bmod\s+(' + IDENT + r')\s*([;{])')
USE = re.compile(r'(?<![\w$])use\b(?!\s*<)')
USE_TOKEN = re.compile(r'\s*(::|[{},*]|\$?' + IDENT + r')')
PATH = re.compile(r'(?<![\w:.$])(\$crate\b|' + IDENT + r')((?:\s*::\s*' + IDENT + r')+)')
# An inherent impl block's opening, `impl<..> Type<..> {` (no `for`), and
# a call through a type's path, `Type::method(`.
INHERENT = re.compile(r'\bimpl\b(?:\s*<[^{;]*?>)?\s+(?:' + IDENT + r'::)*(' + IDENT
                      + r')\s*(?:<[^{;]*?>)?\s*(?:where\b[^{;]*)?\{')
TYPE_CALL = re.compile(r'\b([A-Z]\w*)\s*::\s*([a-z_]\w*)\s*(?:::\s*<[^;{]*?>\s*)?\(')
NOT_NAMES = {'fn', 'mut', 'unsafe', 'async', 'extern', '_'}


def blank(s, a, b):
    return s[:a] + re.sub(r'[^\n]', ' ', s[a:b]) + s[b:]


def strip(src):
    """Blanks comments and string/char literals, keeping offsets and lines.
    `'a` (a lifetime) is not a char literal: those need the closing quote."""
    out, i = [], 0
    while (m := LEX.search(src, i)):
        end = m.end()
        if m.group(0) == '/*':  # block comments nest
            depth = 1
            while depth and end < len(src):
                step = src[end:end + 2]
                depth += (step == '/*') - (step == '*/')
                end += 2 if step in ('/*', '*/') else 1
        out += [src[i:m.start()], re.sub(r'[^\n]', ' ', src[m.start():end])]
        i = end
    return ''.join(out + [src[i:]])


def closing(s, i):
    """The offset past the brace matching the one at `i`."""
    depth = 0
    for j in range(i, len(s)):
        depth += (s[j] == '{') - (s[j] == '}')
        if depth == 0:
            return j + 1
    return len(s)


def attrs_before(s, pos):
    """Where the outer attributes before the item at `pos` start (skipping
    its visibility), and their spans."""
    m = re.search(r'\bpub\s*(?:\([^)]*\))?\s*$', s[max(0, pos - 60):pos])
    j, spans = pos - (len(m.group(0)) if m else 0), []
    while True:
        k = len(s[:j].rstrip())
        if k < 2 or s[k - 1] != ']':
            return j, spans
        depth, a = 0, k - 1
        while a > 0 and (depth := depth + (s[a] == ']') - (s[a] == '[')):
            a -= 1
        if a < 1 or s[a - 1] != '#':
            return j, spans
        spans.append((a - 1, k))
        j = a - 1


class Module:
    def __init__(self, name, parent, file, base, inline=False):
        self.name, self.parent, self.file, self.base = name, parent, file, base
        self.inline, self.children, self.items = inline, {}, set()
        self.imports, self.globs = {}, []  # name -> [path]; [path]

    def root(self):
        return self if self.parent is None else self.parent.root()


class Crate:
    def __init__(self, root_file):
        self.refs, self.files = [], []  # refs: (module, path, line, text, bare)
        self.methods, self.calls = {}, []  # (type, name) -> {file}; (file, type, name, line)
        self.root = Module('crate', None, root_file, os.path.dirname(root_file))
        self.load(self.root)

    def load(self, fmod):
        path = fmod.file
        self.files.append(path)
        src = open(path, encoding='utf-8').read()
        s = strip(src)
        for m in MOD.finditer(s):  # leave out #[cfg(test)] modules
            start, spans = attrs_before(s, m.start())
            if any(re.sub(r'\s', '', s[a:b]) == '#[cfg(test)]' for a, b in spans):
                s = blank(s, start, closing(s, m.end() - 1) if m.group(2) == '{' else m.end())
        newlines = [i for i, c in enumerate(s) if c == '\n']

        def line(pos):
            return bisect.bisect_left(newlines, pos) + 1
        # The module, and the brace depth inside it, from each offset on.
        starts, scopes, stack = [0], [(fmod, 0)], [(fmod, 0)]
        for i, c in enumerate(s):
            if c not in '{}':
                continue
            mod, depth = stack[-1]
            m = re.search(r'\bmod\s+(' + IDENT + r')\s*$', s[max(0, i - 80):i])
            if c == '}':
                stack = stack[:-1] or stack
            elif m and depth == 0:
                name = m.group(1).replace('r#', '')
                stack.append((mod.children.setdefault(name, Module(
                    name, mod, path, os.path.join(mod.base, name), inline=True)), 0))
            else:
                stack.append((mod, depth + 1))
            starts.append(i + 1)
            scopes.append(stack[-1])

        def scope(pos):
            return scopes[bisect.bisect_right(starts, pos) - 1]
        for m in ITEM.finditer(s):
            mod, depth = scope(m.start())
            if depth == 0 and (m.group(1) or m.group(2)) not in NOT_NAMES:
                mod.items.add(m.group(1) or m.group(2))
        for m in MOD.finditer(s):
            (mod, depth), name = scope(m.start()), m.group(1).replace('r#', '')
            if m.group(2) != ';' or depth != 0:
                continue
            attr = [re.search(r'\bpath\s*=\s*"([^"]*)"', src[a:b])
                    for a, b in attrs_before(s, m.start())[1]]
            attr = [a.group(1) for a in attr if a]
            if attr:  # relative to the file's directory, or the inline module's
                base = mod.base if mod.inline else os.path.dirname(path)
                files = [os.path.normpath(os.path.join(base, attr[0]))]
            else:
                files = [os.path.join(mod.base, name + '.rs'),
                         os.path.join(mod.base, name, 'mod.rs')]
            found = [f for f in files if os.path.isfile(f)]
            if not found:
                print(f'warning: {path}:{line(m.start())}: no file for `mod {name};`',
                      file=sys.stderr)
                continue
            base = os.path.dirname(found[0]) if attr else os.path.join(mod.base, name)
            mod.children[name] = Module(name, mod, found[0], base)
            self.load(mod.children[name])
        for m in INHERENT.finditer(s):
            ty, end = m.group(1), closing(s, m.end() - 1)
            body = s[m.end():end]
            for f in re.finditer(r'\bfn\s+(' + IDENT + r')', body):
                self.methods.setdefault((ty, f.group(1)), set()).add(path)
            for c in re.finditer(r'\bself\s*\.\s*(' + IDENT + r')\s*(?:::\s*<[^;{]*?>\s*)?\(', body):
                self.calls.append((path, ty, c.group(1), line(m.end() + c.start())))
        for m in TYPE_CALL.finditer(s):
            self.calls.append((path, m.group(1), m.group(2), line(m.start())))
        code = s  # the code outside `use` declarations, for inline paths
        for m in USE.finditer(s):
            end = s.find(';', m.end()) % (len(s) + 1)
            code = blank(code, m.start(), end)
            mod, depth = scope(m.start())
            toks = [(t.group(1), m.end() + t.start(1))
                    for t in USE_TOKEN.finditer(s[m.end():end])]
            leaves = []
            try:
                parse_use(toks + [(';', end)], 0, [], leaves)
            except (IndexError, ValueError):
                print(f'warning: {path}:{line(m.start())}: unparsed `use`', file=sys.stderr)
            for segs, alias, pos in leaves:
                if depth == 0 and alias == '*':  # only module-level uses name things
                    mod.globs.append(segs)
                elif depth == 0 and alias != '_':
                    mod.imports.setdefault(alias, []).append(segs)
                text = '::'.join(segs + (['*'] if alias == '*' else []))
                self.refs.append((mod, segs, line(pos), text, False))
        code = re.sub(r'\bpub\s*\(\s*in\b[^)]*\)', lambda m: ' ' * len(m.group(0)), code)
        for m in PATH.finditer(code):
            segs = [x.replace('r#', '') for x in re.split(r'\s*::\s*', m.group(0))]
            bare = segs[0] not in ('crate', '$crate', 'super', 'self')
            self.refs.append((scope(m.start())[0], segs, line(m.start()),
                              '::'.join(segs), bare))


def parse_use(toks, i, prefix, out):
    """Expands the use tree at toks[i] into (path, alias or '*', offset)."""
    segs = prefix + ([''] if toks[i][0] == '::' else [])  # `::x`: another crate
    i += toks[i][0] == '::'
    while True:
        tok, pos = toks[i]
        if tok == '{':
            i += 1
            while toks[i][0] != '}':
                i = parse_use(toks, i, segs, out)
                if toks[i][0] not in ',}':
                    raise ValueError(toks[i])
                i += toks[i][0] == ','
            return i + 1
        if tok == '*':
            out.append((segs, '*', pos))
            return i + 1
        if not re.match(r'\$?\w', tok):
            raise ValueError(tok)
        segs, i = segs + [tok.replace('r#', '')], i + 1
        if toks[i][0] == '::':
            i += 1
            continue
        alias = None
        if toks[i][0] == 'as':
            alias, i = toks[i + 1][0], i + 2
        if segs[-1] == 'self':
            segs = segs[:-1]
        out.append((segs, alias or segs[-1], pos))
        return i


def resolve(ctx, segs, guard=frozenset()):
    """What a path used in module `ctx` names: ('mod', Module) or ('file',
    path), or None when it is another crate's."""
    if not segs or segs[0] == '':
        return None
    head, cur = segs[0], ctx
    if head in ('crate', '$crate'):
        cur = ctx.root()
    elif head == 'super':
        cur = ctx.parent
    elif head != 'self':
        found = lookup(ctx, head, guard)
        if found is None or found[0] != 'mod':
            return found
        cur = found[1]
    for seg in segs[1:]:
        if cur is None or seg == 'super':
            cur = cur and cur.parent
            continue
        found = lookup(cur, seg, guard)
        if found is None:
            return ('file', cur.file)  # not found: where the walk stopped
        if found[0] != 'mod':
            return found
        cur = found[1]
    return cur and ('mod', cur)


def lookup(mod, name, guard):
    """What `name` means inside `mod`, following imports and globs; None if
    nothing there. `guard` stops re-export loops."""
    if name in mod.children:
        return ('mod', mod.children[name])
    if name in mod.items:
        return ('file', mod.file)
    if (mod, name) in guard:
        return None
    guard |= {(mod, name)}
    for segs in mod.imports.get(name, []):
        if (found := resolve(mod, segs, guard)) is not None:
            return found
    if name in mod.imports:
        return ('file', mod.file)  # imported from another crate
    for segs in mod.globs:
        if (found := resolve(mod, segs, guard)) and found[0] == 'mod':
            if (found := lookup(found[1], name, guard)) is not None:
                return found
    return None


def edges_of(crate):
    """{(from, to): (line, path)}, with the first reference of each edge."""
    edges = {}
    for mod, segs, line, text, bare in crate.refs:
        if bare and (lookup(mod, segs[0], frozenset()) or ('',))[0] != 'mod':
            continue  # `x::y` where `x` is no module of ours
        found = resolve(mod, segs)
        dst = found and (found[1].file if found[0] == 'mod' else found[1])
        if dst and dst != mod.file:
            edges.setdefault((mod.file, dst), (line, text))
    for src, ty, name, line in crate.calls:
        files = crate.methods.get((ty, name), set())
        if len(files) == 1 and src not in files:
            edges.setdefault((src, next(iter(files))), (line, f'{ty}::{name}'))
    return edges


def tarjan(nodes, succ):
    """Strongly connected components (recursive; the limit is raised)."""
    sys.setrecursionlimit(max(1000, 4 * len(nodes) + 100))
    index, low, stack, out = {}, {}, [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in succ[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            i = stack.index(v)
            out.append(stack[i:])
            del stack[i:]
    for v in nodes:
        if v not in index:
            visit(v)
    return out


def main(argv):
    flags = {a for a in argv if a.startswith('--')}
    roots = [a for a in argv if not a.startswith('--')]
    if not roots or flags - {'--edges', '--dot'}:
        print('usage: module-cycles.py [--edges] [--dot] CRATE_ROOT.rs...', file=sys.stderr)
        return 2
    failed, dot = False, ['digraph modules {', '  rankdir=LR; node [shape=box];']
    for n, root in enumerate(roots):
        crate, top = Crate(root), os.path.dirname(root)

        def rel(f):
            return os.path.relpath(f, top)
        edges = edges_of(crate)
        succ = {f: sorted(d for s, d in edges if s == f) for f in crate.files}
        cycles = sorted((sorted(c) for c in tarjan(crate.files, succ) if len(c) > 1),
                        key=lambda c: (-len(c), c))
        failed |= bool(cycles)
        in_cycle = {(s, d) for c in cycles for s, d in edges if s in c and d in c}
        if '--dot' in flags:
            dot.append(f'  subgraph cluster_{n} {{ label="{root}";')
            dot += [f'    "{f}" [label="{rel(f)}"];' for f in crate.files] + ['  }']
            dot += [f'  "{s}" -> "{d}"' + (' [color=red];' if (s, d) in in_cycle else ';')
                    for s, d in sorted(edges)]
            continue
        print(f'{root}: {len(crate.files)} files, {len(edges)} edges')
        for (s, d), (line, text) in sorted(edges.items()) if '--edges' in flags else ():
            print(f'  {rel(s)}:{line} -> {rel(d)} (via {text})')
        if not cycles:
            print('  no cycles')
        for i, comp in enumerate(cycles, 1):
            print(f'  cycle {i} ({len(comp)} files): {", ".join(rel(f) for f in comp)}')
            for (s, d), (line, text) in sorted(edges.items()):
                if (s, d) in in_cycle and s in comp:
                    print(f'    {rel(s)}:{line} -> {rel(d)} (via {text})')
    if '--dot' in flags:
        print('\n'.join(dot + ['}']))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
