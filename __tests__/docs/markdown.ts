/**
 * The little of Markdown the docs tests need: fenced code blocks (with the `<!-- snippet: partial — reason -->`
 * marker on the line before the fence), ATX headings, and the structural mistakes that would make a test skip a
 * block silently (an unclosed fence, a marker that is misspelt or not directly above a fence).
 *
 * Not a CommonMark parser: fences may be indented (the indent is removed from their lines, as in list items), but
 * fences inside blockquotes, indented code blocks and setext headings (`Title` over `===`) are not recognised.
 */

export interface CodeBlock {
  /** The Markdown file, as the caller named it (used in test titles and messages). */
  file: string;
  /** 1-based line of the opening fence; the block's own line 1 is the line after it. */
  line: number;
  /** 1-based line of the closing fence (the last line of the file when the fence is never closed). */
  endLine: number;
  /** First word of the info string, lower-cased; `''` for a fence without one. */
  lang: string;
  /** The block's lines, without the fences and without the fence's indentation. */
  code: string;
  /** The reason given by a `<!-- snippet: partial — reason -->` line just before the fence. */
  partial?: string;
  /** The nearest heading above the block, for messages (`''` before the first heading). */
  section: string;
}

export interface Heading {
  level: number;
  text: string;
  /** 1-based line. */
  line: number;
}

export interface MarkdownDoc {
  file: string;
  lines: string[];
  blocks: CodeBlock[];
  headings: Heading[];
  /** Mistakes in fences and snippet markers, each naming its line; empty when the file is well-formed. */
  problems: string[];
}

const FENCE = /^([ \t]*)(`{3,}|~{3,})(.*)$/;
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
/** Any HTML comment addressed to the snippet test. */
const MARKER = /^[ \t]*<!--\s*snippet\s*:(.*?)-->[ \t]*$/;
/** The one marker there is: `partial`, a dash (em dash, en dash or hyphen), and a reason. */
const PARTIAL = /^\s*partial\s*(?:—|–|--?)\s*(\S.*?)\s*$/;

export const PARTIAL_MARKER_FORMAT = '<!-- snippet: partial — <reason> -->';

function removeIndent(line: string, indent: number): string {
  let i = 0;
  while (i < indent && (line[i] === ' ' || line[i] === '\t')) i++;
  return line.slice(i);
}

/** Splits `text` (the contents of `file`) into its code blocks and headings. */
export function parseMarkdown(text: string, file: string): MarkdownDoc {
  const lines = text.split(/\r?\n/);
  const blocks: CodeBlock[] = [];
  const headings: Heading[] = [];
  const problems: string[] = [];
  let section = '';
  /** A marker waiting for its fence on the very next line. */
  let marker: { line: number; reason: string } | undefined;

  const dropMarker = (why: string): void => {
    if (marker) problems.push(`${file}:${marker.line}: snippet marker ${why}`);
    marker = undefined;
  };

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const fence = FENCE.exec(line);
    if (fence) {
      const [, indent = '', chars = '', info = ''] = fence;
      if (chars.startsWith('`') && info.includes('`')) {
        dropMarker('is not followed by a code fence');
        continue; // inline code such as ```x```, not a fence
      }
      const lang = (info.trim().split(/\s+/)[0] ?? '').toLowerCase();
      const start = i + 1;
      const body: string[] = [];
      let closed = false;
      for (i++; i < lines.length; i++) {
        const inner = lines[i] ?? '';
        const close = /^[ \t]*(`{3,}|~{3,})[ \t]*$/.exec(inner);
        if (close?.[1] && close[1][0] === chars[0] && close[1].length >= chars.length) {
          closed = true;
          break;
        }
        body.push(removeIndent(inner, indent.length));
      }
      if (!closed) problems.push(`${file}:${start}: code fence ${chars}${lang} is never closed`);
      const block: CodeBlock = {
        file,
        line: start,
        endLine: Math.min(i + 1, lines.length),
        lang,
        code: body.join('\n'),
        section,
      };
      // Every other line drops a pending marker, so one still pending is on the line just before this fence.
      if (marker) block.partial = marker.reason;
      marker = undefined;
      blocks.push(block);
      continue;
    }

    const comment = MARKER.exec(line);
    if (comment) {
      dropMarker('is not followed by a code fence');
      const partial = PARTIAL.exec(comment[1] ?? '');
      if (partial?.[1]) marker = { line: i + 1, reason: partial[1] };
      else
        problems.push(
          `${file}:${i + 1}: unknown snippet marker ${line.trim()}; the only one is ${PARTIAL_MARKER_FORMAT}`,
        );
      continue;
    }
    if (marker) dropMarker('is not on the line just before a code fence');

    const heading = HEADING.exec(line);
    if (heading?.[1]) {
      const text = (heading[2] ?? '').trim();
      headings.push({ level: heading[1].length, text, line: i + 1 });
      section = `${heading[1]} ${text}`;
    }
  }
  dropMarker('is not followed by a code fence');
  return { file, lines, blocks, headings, problems };
}
