import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A TypeScript code block of a Markdown file and what its marker says it is a copy of. */
export interface Snippet {
  /** 1-based line of the opening fence. */
  line: number;
  code: string;
  /** `path` or `path#region` from `<!-- snippet: … -->` on the line before the block; undefined without one. */
  source?: string;
}

const MARKER = /^<!-- snippet: (\S+) -->$/;

/** The ```ts blocks of a Markdown text, each with the snippet marker just before it (blank lines between allowed). */
export function typescriptBlocks(markdown: string): Snippet[] {
  const lines = markdown.split('\n');
  const blocks: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i])) continue;
    const end = lines.indexOf('```', i + 1);
    if (end < 0) throw new Error(`line ${i + 1}: a code block that is never closed`);
    let before = i - 1;
    while (before >= 0 && lines[before].trim() === '') before--;
    const source = before >= 0 ? MARKER.exec(lines[before].trim())?.[1] : undefined;
    blocks.push({ line: i + 1, code: lines.slice(i + 1, end).join('\n'), source });
    i = end;
  }
  return blocks;
}

/**
 * What a marker points at: a whole file, or the lines between
 * `// #region name` and `// #endregion name` in it, without their common indent.
 */
export function snippetSource(root: string, source: string): string {
  const [path, region] = source.split('#');
  const text = readFileSync(join(root, path), 'utf8').replace(/\n$/, '');
  if (!region) return text;
  const lines = text.split('\n');
  const start = lines.findIndex((line) => line.trim() === `// #region ${region}`);
  const end = lines.findIndex((line) => line.trim() === `// #endregion ${region}`);
  if (start < 0 || end < start)
    throw new Error(`${path} has no region "${region}" (// #region ${region} … // #endregion ${region})`);
  const body = lines.slice(start + 1, end);
  const indent = Math.min(
    ...body.filter((line) => line.trim()).map((line) => line.length - line.trimStart().length),
  );
  return body.map((line) => line.slice(indent)).join('\n');
}
