//! Lexing `.dasr` lines: which lines are assembler, splitting statements and operands.

/// `str::trim`, `trim_start` and `trim_end` (the same whitespace: `char::is_whitespace`),
/// without decoding characters while the edges are ASCII (statements and operands are
/// trimmed many times each).
pub(crate) trait Trim {
    /// `str::trim`.
    fn trim_ws(&self) -> &str;
    /// `str::trim_start`.
    fn trim_start_ws(&self) -> &str;
    /// `str::trim_end`.
    fn trim_end_ws(&self) -> &str;
}

impl Trim for str {
    #[inline]
    fn trim_ws(&self) -> &str {
        // (most texts are trimmed already: ASCII at both ends that is not whitespace, which is
        // all at or below a space)
        let b = self.as_bytes();
        match (b.first(), b.last()) {
            (Some(&f), Some(&l)) if (b'!'..0x80).contains(&f) && (b'!'..0x80).contains(&l) => self,
            _ => self.trim_start_ws().trim_end_ws(),
        }
    }
    #[inline]
    fn trim_start_ws(&self) -> &str {
        let b = self.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r' => i += 1,
                c if c < 0x80 => return &self[i..],
                _ => return self[i..].trim_start(),
            }
        }
        &self[i..]
    }
    #[inline]
    fn trim_end_ws(&self) -> &str {
        let b = self.as_bytes();
        let mut e = b.len();
        while e > 0 {
            match b[e - 1] {
                b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r' => e -= 1,
                c if c < 0x80 => return &self[..e],
                _ => return self[..e].trim_end(),
            }
        }
        &self[..e]
    }
}

/// What a source line is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LineKind<'a> {
    /// Rust, copied unchanged.
    Rust,
    /// `|| code`: Rust produced by the assembler side (after substitution).
    RustFromAsm(&'a str),
    /// `| statements`: the text after the `|`, and its byte offset in the line.
    Asm(&'a str, usize),
}

/// Classify a line by its first non-blank character.
pub(crate) fn classify(line: &str) -> LineKind<'_> {
    let trimmed = line.trim_start_ws();
    let Some(rest) = trimmed.strip_prefix('|') else {
        return LineKind::Rust;
    };
    if let Some(code) = rest.strip_prefix('|') {
        return LineKind::RustFromAsm(code);
    }
    let col = line.len() - rest.len();
    LineKind::Asm(rest, col)
}

/// The leading whitespace of a line.
pub(crate) fn indent(line: &str) -> &str {
    &line[..line.len() - line.trim_start_ws().len()]
}

/// If a Rust string or character literal starts at byte `i` of `text` (`"..."`, `b"..."`,
/// `r#"..."#`, `'x'`, `'\n'`, `b'x'`), the byte offset just after it; `Err(())` for a string
/// that does not end on the line. A `'` that does not start a character literal (a lifetime)
/// is not a literal.
pub(crate) fn literal_end(text: &str, i: usize) -> Option<Result<usize, ()>> {
    let b = text.as_bytes();
    match b.get(i)? {
        b'"' => {
            // A raw string: `r"..."` or `r#"..."#` (also `br`), the `r` starting a word.
            let mut k = i;
            let mut hashes = 0;
            while k > 0 && b[k - 1] == b'#' {
                k -= 1;
                hashes += 1;
            }
            let raw = text[..k].strip_suffix('r').is_some_and(|p| {
                let p = p.strip_suffix('b').unwrap_or(p);
                !p.ends_with(is_word)
            });
            if raw {
                let close = format!("\"{}", "#".repeat(hashes));
                return Some(
                    text[i + 1..]
                        .find(&close)
                        .map(|e| i + 1 + e + close.len())
                        .ok_or(()),
                );
            }
            let mut j = i + 1;
            while j < b.len() {
                match b[j] {
                    b'\\' => j += 2,
                    b'"' => return Some(Ok(j + 1)),
                    _ => j += 1,
                }
            }
            Some(Err(()))
        }
        b'\'' => {
            // `'x'` (any one character) or `'\...'`; otherwise a lifetime or a stray quote.
            let rest = &text[i + 1..];
            if let Some(esc) = rest.strip_prefix('\\') {
                // Skip the escaped character, then find the closing quote.
                let first = esc.chars().next()?.len_utf8();
                let end = esc[first..].find('\'')?;
                return Some(Ok(i + 2 + first + end + 1));
            }
            let c = rest.chars().next()?;
            rest[c.len_utf8()..]
                .starts_with('\'')
                .then(|| Ok(i + 1 + c.len_utf8() + 1))
        }
        _ => None,
    }
}

/// The bytes of `text` outside string and character literals, with their offsets, in order (a
/// string that does not end stops the walk). The callers look for ASCII characters, which are
/// single bytes in UTF-8 (the bytes of other characters are all 0x80 or more).
#[cfg(test)]
fn code_bytes(text: &str) -> impl Iterator<Item = (usize, u8)> + '_ {
    let b = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || loop {
        let c = *b.get(i)?;
        // (only a quote can start a literal)
        if c == b'"' || c == b'\'' {
            match literal_end(text, i) {
                Some(Ok(e)) => {
                    i = e;
                    continue;
                }
                Some(Err(())) => {
                    i = text.len();
                    return None;
                }
                None => {}
            }
        }
        i += 1;
        return Some((i - 1, c));
    })
}

/// Whether a string literal on the line does not end (its byte offset). (With
/// `strip_comment` and `statements`, the reference `scan` is tested against.)
#[cfg(test)]
pub(crate) fn unterminated_string(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let mut i = 0;
    while i < text.len() {
        // (only a quote can start a literal; the bytes of other characters are skipped one by
        // one, and a quote is always at a character boundary)
        if b[i] != b'"' && b[i] != b'\'' {
            i += 1;
            continue;
        }
        match literal_end(text, i) {
            Some(Ok(e)) => i = e,
            Some(Err(())) => return Some(i),
            None => i += 1,
        }
    }
    None
}

/// Cut an assembler line at its `//` comment (not inside a string or character literal).
#[cfg(test)]
pub(crate) fn strip_comment(text: &str) -> &str {
    let b = text.as_bytes();
    for (i, c) in code_bytes(text) {
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            return &text[..i];
        }
    }
    text
}

/// Split a line into statements at every `;` outside string and character literals, with
/// byte offsets. Linear in the length of the line.
#[cfg(test)]
pub(crate) fn statements(text: &str) -> impl Iterator<Item = (&str, usize)> + '_ {
    let mut semis = code_bytes(text).filter(|&(_, c)| c == b';');
    let mut start = Some(0);
    std::iter::from_fn(move || {
        let s = start?;
        match semis.next() {
            Some((i, _)) => {
                start = Some(i + 1);
                Some((&text[s..i], s))
            }
            None => {
                start = None;
                Some((&text[s..], s))
            }
        }
    })
}

/// One walk over an assembler line (what `unterminated_string`, `strip_comment` and
/// `statements` give, together): the byte offset of its `//` comment (the length of the text
/// without one), with the offsets of the statement-separating `;`s before it appended to
/// `semis`; or `Err` with the offset of a string literal that does not end on the line (also
/// in the comment).
pub(crate) fn scan(text: &str, semis: &mut Vec<usize>) -> Result<usize, usize> {
    let b = text.as_bytes();
    let mut cut = None;
    let mut i = 0;
    while let Some((at, c)) = next_stop(text, i, &SCAN_STOPS)? {
        match c {
            b'/' if cut.is_none() && b.get(at + 1) == Some(&b'/') => cut = Some(at),
            b';' if cut.is_none() => semis.push(at),
            _ => {}
        }
        i = at + 1;
    }
    Ok(cut.unwrap_or(b.len()))
}

/// From offset `i` on, the next byte of `text` that `stops` marks (quotes among them), outside
/// string and character literals: its offset and value, or `None` at the end; `Err` with the
/// offset of a literal that does not end on the line. (The walk of `code_bytes`, by hand and
/// through a table: most bytes are none of those looked for.)
#[inline(always)]
fn next_stop(text: &str, mut i: usize, stops: &[bool; 256]) -> Result<Option<(usize, u8)>, usize> {
    let b = text.as_bytes();
    loop {
        while i < b.len() && !stops[usize::from(b[i])] {
            i += 1;
        }
        let Some(&c) = b.get(i) else {
            return Ok(None);
        };
        if c == b'"' || c == b'\'' {
            match literal_end(text, i) {
                Some(Ok(e)) => {
                    i = e;
                    continue;
                }
                Some(Err(())) => return Err(i),
                None => {}
            }
        }
        return Ok(Some((i, c)));
    }
}

/// The first `\n` in `b`, eight bytes at a time (lines are short: no searcher to set up).
fn find_newline(b: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let mut chunks = b.chunks_exact(8);
    for (k, c) in (&mut chunks).enumerate() {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        // (a zero byte of `x` is a newline; the lowest flagged byte is the first one)
        let x = u64::from_le_bytes(w) ^ (ONES * u64::from(b'\n'));
        let t = x.wrapping_sub(ONES) & !x & (ONES << 7);
        if t != 0 {
            return Some(8 * k + (t.trailing_zeros() / 8) as usize);
        }
    }
    let tail = b.len() - chunks.remainder().len();
    chunks
        .remainder()
        .iter()
        .position(|&c| c == b'\n')
        .map(|k| tail + k)
}

/// The bytes [`scan`] looks at.
static SCAN_STOPS: [bool; 256] = {
    let mut t = [false; 256];
    t[b'"' as usize] = true;
    t[b'\'' as usize] = true;
    t[b'/' as usize] = true;
    t[b';' as usize] = true;
    t
};

/// The lines of `text` (`text.split('\n')`).
pub(crate) fn split_lines(text: &str) -> impl Iterator<Item = &str> + '_ {
    let b = text.as_bytes();
    let mut pos = Some(0);
    std::iter::from_fn(move || {
        let s = pos?;
        match find_newline(&b[s..]) {
            Some(k) => {
                pos = Some(s + k + 1);
                Some(&text[s..s + k])
            }
            None => {
                pos = None;
                Some(&text[s..])
            }
        }
    })
}

/// Split an operand list at commas outside `()`, `[]` and `{}`; `Err` on unbalanced brackets.
/// Each operand is trimmed and comes with its byte offset in `text`.
pub(crate) fn operands(text: &str) -> Result<Vec<(&str, usize)>, usize> {
    let mut out = Vec::with_capacity(4);
    each_operand(text, |t, at| out.push((t, at)))?;
    Ok(out)
}

/// The number of operands of an operand list ([`operands`]), without collecting them.
pub(crate) fn count_operands(text: &str) -> Result<usize, usize> {
    let mut n = 0;
    each_operand(text, |_, _| n += 1)?;
    Ok(n)
}

/// The bytes [`each_operand`] looks at.
static OPERAND_STOPS: [bool; 256] = {
    let mut t = [false; 256];
    let mut k = 0;
    while k < 9 {
        t[b"\"'()[]{},"[k] as usize] = true;
        k += 1;
    }
    t
};

/// The opening bracket of the closing bracket `close` (`)`, `]` or `}`).
pub(crate) fn opener(close: u8) -> u8 {
    match close {
        b')' => b'(',
        b']' => b'[',
        _ => b'{',
    }
}

/// [`operands`], each given to `push` (before an unbalanced bracket is found, possibly).
pub(crate) fn each_operand<'t>(
    text: &'t str,
    mut push: impl FnMut(&'t str, usize),
) -> Result<(), usize> {
    // The open brackets (on the stack up to 32 deep).
    let mut inline = [0u8; 32];
    let mut deep: Vec<u8> = Vec::new();
    let mut n = 0;
    let mut start = 0;
    let mut any = false;
    let mut piece = |s: usize, e: usize| {
        let t = text[s..e].trim_start_ws();
        push(t.trim_end_ws(), e - t.len());
    };
    let mut i = 0;
    // (a string that does not end stops the walk, as in `code_bytes`)
    while let Ok(Some((at, c))) = next_stop(text, i, &OPERAND_STOPS) {
        i = at;
        match c {
            b'(' | b'[' | b'{' => {
                match inline.get_mut(n) {
                    Some(slot) => *slot = c,
                    None => deep.push(c),
                }
                n += 1;
            }
            b')' | b']' | b'}' => {
                let open = opener(c);
                let top = match n.checked_sub(1) {
                    None => None,
                    Some(k) if k < inline.len() => Some(inline[k]),
                    Some(_) => deep.pop(),
                };
                if top != Some(open) {
                    return Err(i);
                }
                n -= 1;
            }
            b',' if n == 0 => {
                piece(start, i);
                any = true;
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if n != 0 {
        return Err(text.len());
    }
    if !text[start..].trim_ws().is_empty() || any {
        piece(start, text.len());
    }
    Ok(())
}

/// Split a statement into its first word (the opcode) and the rest, with the rest's offset.
pub(crate) fn opcode(stmt: &str) -> (&str, &str, usize) {
    let s = stmt.trim_start_ws();
    let lead = stmt.len() - s.len();
    // As dynasm.lua, a comma also ends the opcode (`savex_, 0, 1` calls macro `savex_`).
    // (by byte while the text is ASCII; then by character, for other whitespace)
    let b = s.as_bytes();
    let mut i = 0;
    let end = loop {
        match b.get(i) {
            None => break None,
            Some(b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b',') => break Some(i),
            Some(&c) if c >= 0x80 => {
                break s[i..]
                    .find(|c: char| c.is_whitespace() || c == ',')
                    .map(|k| i + k)
            }
            Some(_) => i += 1,
        }
    };
    match end {
        Some(i) if s.as_bytes()[i] == b',' => (&s[..i], &s[i + 1..], lead + i + 1),
        Some(i) => (&s[..i], &s[i..], lead + i),
        None => (s, "", stmt.len()),
    }
}

/// The first occurrence of `needle` in `hay`, as `str::find` gives it; short texts (a
/// statement) by a plain scan, which costs less than setting up `str::find`'s searcher.
pub(crate) fn find_str(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if h.len() > 256 || n.is_empty() {
        return hay.find(needle);
    }
    // (a match starts at a character boundary: `needle` starts with one)
    (0..(h.len() + 1).checked_sub(n.len())?).find(|&i| h[i] == n[0] && &h[i..i + n.len()] == n)
}

/// The first occurrence of the ASCII byte `c` in `hay` (`hay.find(c as char)`, by a plain scan:
/// the texts are short).
#[inline]
pub(crate) fn find_byte(hay: &str, c: u8) -> Option<usize> {
    hay.bytes().position(|b| b == c)
}

/// `hay.split_once(c as char)` for an ASCII byte `c` (see [`find_byte`]).
#[inline]
pub(crate) fn split_once_byte(hay: &str, c: u8) -> Option<(&str, &str)> {
    find_byte(hay, c).map(|i| (&hay[..i], &hay[i + 1..]))
}

/// The first occurrence of the two ASCII bytes `a`, `b` in `hay` (`hay.find("ab")`, without
/// setting up a substring searcher).
#[inline]
pub(crate) fn find_pair(hay: &str, a: u8, b: u8) -> Option<usize> {
    let h = hay.as_bytes();
    let mut from = 0;
    // (each `a`, then the byte after it: `a` is rare)
    while let Some(k) = h[from..].iter().position(|&c| c == a) {
        let i = from + k;
        if h.get(i + 1) == Some(&b) {
            return Some(i);
        }
        from = i + 1;
    }
    None
}

/// Whether `c` can be part of a word for define and macro-parameter substitution.
pub(crate) fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether byte `c` can be part of a word (see [`is_word`]).
#[inline]
fn is_word_byte(c: u8) -> bool {
    WORD_BYTES[usize::from(c)]
}

/// [`is_word_byte`] as a table.
static WORD_BYTES: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || b == b'_';
        c += 1;
    }
    t
};

/// The byte ranges of the whole words of `text` (words are `#?[A-Za-z0-9_]+`), in order.
pub(crate) fn word_ranges(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let b = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < b.len() {
            let c = b[i];
            if is_word_byte(c) || (c == b'#' && i + 1 < b.len() && is_word_byte(b[i + 1])) {
                let s = i;
                i += 1;
                while i < b.len() && is_word_byte(b[i]) {
                    i += 1;
                }
                return Some((s, i));
            }
            // (the bytes of a non-ASCII character are never a word or `#`)
            i += 1;
        }
        None
    })
}

/// The whole words of `text` (words are `#?[A-Za-z0-9_]+`), in order.
pub(crate) fn words(text: &str) -> impl Iterator<Item = &str> + '_ {
    word_ranges(text).map(move |(s, e)| &text[s..e])
}

/// Replace whole words of `text` using `f` (words are `#?[A-Za-z0-9_]+`): `f` gives the
/// replacement of a word, in two pieces, or `None` to keep the word.
pub(crate) fn map_words<'t, 'r>(
    text: &'t str,
    f: impl FnMut(&'t str) -> Option<[&'r str; 2]>,
) -> String {
    map_words_from(text, 0, f)
}

/// [`map_words`] on the words from byte `from` on (a word's start: the text before it is kept
/// as it is).
pub(crate) fn map_words_from<'t, 'r>(
    text: &'t str,
    from: usize,
    mut f: impl FnMut(&'t str) -> Option<[&'r str; 2]>,
) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    // (the text kept is copied in one piece up to the next replaced word)
    let mut plain = 0;
    for (s, e) in word_ranges(&text[from..]) {
        let (s, e) = (from + s, from + e);
        if let Some([a, b]) = f(&text[s..e]) {
            out.push_str(&text[plain..s]);
            out.push_str(a);
            out.push_str(b);
            plain = e;
        }
    }
    out.push_str(&text[plain..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_lines() {
        assert_eq!(classify("  let x = 1;"), LineKind::Rust);
        assert_eq!(classify("  || if x {"), LineKind::RustFromAsm(" if x {"));
        assert_eq!(classify("  | mov eax, 1"), LineKind::Asm(" mov eax, 1", 3));
    }

    #[test]
    fn split_operands() {
        assert_eq!(
            operands(" eax, [rbx+rcx*4], f(a, b)").unwrap(),
            [("eax", 1), ("[rbx+rcx*4]", 6), ("f(a, b)", 19)]
        );
        assert!(operands("[rax").is_err());
        assert!(operands("f(a]").is_err());
        assert_eq!(operands("   ").unwrap(), []);
        // Nesting deeper than the brackets kept on the stack.
        let deep = format!("a, {}x{}, b", "([{".repeat(20), "}])".repeat(20));
        assert_eq!(operands(&deep).unwrap().len(), 3);
        let bad = format!("{}x{}", "(".repeat(40), ")".repeat(41));
        assert_eq!(operands(&bad), Err(bad.len() - 1));
        let open = format!("{}x", "[".repeat(40));
        assert_eq!(operands(&open), Err(open.len()));
    }

    #[test]
    fn literals() {
        assert_eq!(
            strip_comment(r#" mov rdi, "a//b" // c"#),
            r#" mov rdi, "a//b" "#
        );
        assert_eq!(strip_comment(" mov eax, '/' // c"), " mov eax, '/' ");
        assert_eq!(strip_comment(r" mov eax, '\'' // c"), r" mov eax, '\'' ");
        assert_eq!(
            strip_comment(r##" x(r#"a"//"#) // c"##),
            r##" x(r#"a"//"#) "##
        );
        assert_eq!(strip_comment(r#" x(br"\") // c"#), r#" x(br"\") "#);
        let st: Vec<(&str, usize)> = statements(r#"a "x;y"; b"#).collect();
        assert_eq!(st, [(r#"a "x;y""#, 0), (" b", 8)]);
        let st: Vec<(&str, usize)> = statements("a;").collect();
        assert_eq!(st, [("a", 0), ("", 2)]);
        assert_eq!(
            operands(r#" f("a,b"), ','"#).unwrap(),
            [(r#"f("a,b")"#, 1), ("','", 11)]
        );
        assert_eq!(unterminated_string(r#" mov rdi, "abc"#), Some(10));
        assert_eq!(unterminated_string(" f::<'a>(x)"), None);
    }

    /// `scan` gives what `unterminated_string`, `strip_comment` and `statements` give, on
    /// random lines of quotes, comments, semicolons and raw strings.
    #[test]
    fn one_scan() {
        let parts = [
            "a", " ", ";", "/", "//", "\"", "'", "\\", "r#\"", "\"#", "b'x'", "'\\''", "é", "#",
        ];
        let mut rnd = crate::xorshift(0x2545_F491);
        let mut seen = [0; 2];
        for _ in 0..100_000 {
            let t: String = (0..rnd(12)).map(|_| parts[rnd(parts.len())]).collect();
            let mut semis = Vec::new();
            let r = scan(&t, &mut semis);
            seen[usize::from(r.is_ok())] += 1;
            match r {
                Err(at) => assert_eq!(unterminated_string(&t), Some(at), "{t:?}"),
                Ok(cut) => {
                    assert_eq!(unterminated_string(&t), None, "{t:?}");
                    let body = strip_comment(&t);
                    assert_eq!(body, &t[..cut], "{t:?}");
                    let mut s = 0;
                    let mine: Vec<(&str, usize)> = semis
                        .iter()
                        .chain(std::iter::once(&cut))
                        .map(|&e| {
                            let st = (&body[s..e], s);
                            s = e + 1;
                            st
                        })
                        .collect();
                    assert_eq!(mine, statements(body).collect::<Vec<_>>(), "{t:?}");
                }
            }
        }
        assert!(seen[0] > 10_000 && seen[1] > 10_000, "{seen:?}");
        for t in [
            "",
            "a",
            "a\n",
            "\n\nb",
            "a\r\nb\n",
            "0123456\n89abcdef\n",
            "01234567\n9abcdef0123\n\n",
            "é\u{10a}\n\u{a0a}0123456789\n",
        ] {
            assert_eq!(
                split_lines(t).collect::<Vec<_>>(),
                t.split('\n').collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn opcodes() {
        assert_eq!(opcode("  mov eax, 1"), ("mov", " eax, 1", 5));
        assert_eq!(opcode("savex_, 0, 1"), ("savex_", " 0, 1", 7));
        assert_eq!(opcode("nop"), ("nop", "", 3));
        assert_eq!(opcode("a\u{a0}b"), ("a", "\u{a0}b", 1));
        assert_eq!(opcode("é\u{2003}x"), ("é", "\u{2003}x", 2));
    }

    #[test]
    fn fast_trims() {
        for t in [
            "",
            " ",
            "a",
            " a b\t",
            "\u{a0}a\u{a0}",
            "\u{85} x \u{2003}",
            "\x0b\x0cé\r\n",
            "é",
            " \u{3000}",
            "\u{1}x\u{7f}",
            "!",
            "a b",
            "~ \u{a0}",
            "\u{85}",
        ] {
            assert_eq!(t.trim_ws(), t.trim(), "{t:?}");
            assert_eq!(t.trim_start_ws(), t.trim_start(), "{t:?}");
            assert_eq!(t.trim_end_ws(), t.trim_end(), "{t:?}");
        }
    }

    #[test]
    fn short_find() {
        for (h, n) in [
            ("a a", "a"),
            ("mov eax, eax", "eax, eax"),
            ("ab", "abc"),
            ("x", ""),
            ("é, é", ", é"),
            ("", ""),
        ] {
            assert_eq!(find_str(h, n), h.find(n), "{h:?} {n:?}");
        }
        for h in [
            "",
            ".",
            "a..b",
            "a.b..",
            "=>",
            "a=b=>c",
            "..",
            "x.",
            "é.é..é",
        ] {
            assert_eq!(find_pair(h, b'.', b'.'), h.find(".."), "{h:?}");
            assert_eq!(find_pair(h, b'=', b'>'), h.find("=>"), "{h:?}");
        }
    }

    #[test]
    fn word_substitution() {
        assert_eq!(
            map_words("mov PTR, #T+x_1 é", |w| (w == "PTR")
                .then_some(["r", "bx"])),
            "mov rbx, #T+x_1 é"
        );
        let w: Vec<&str> = words("a #b+c1 é_d #").collect();
        assert_eq!(w, ["a", "#b", "c1", "_d"]);
    }
}
