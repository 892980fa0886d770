import { readdirSync, readFileSync } from 'node:fs';
import { REPO_ROOT } from '@lab/lab-kit/lab-env';

export const CHAPTERS_DIR = `${REPO_ROOT}docs/workshop/`;

/**
 * A fenced shell block of a chapter. Its info string says what the docs test does with it:
 *   ```sh run [fails] [interrupt=S] [timeout=S]   runs, in order, and must succeed (or fail, with `fails`)
 *   ```sh skip <reason>                           shown, never run; the reason is printed by the test
 *   ```sh answer                                  an exercise's answer: run by the checker tests
 * A ```text output block right after a run block is its recorded output, and
 * `<!-- expect: text -->` lines after that are markers the real output must contain.
 */
export interface ShellBlock {
  kind: 'run' | 'skip' | 'answer';
  code: string;
  /** 1-based line of the opening fence, for messages. */
  line: number;
  fails: boolean;
  /** Send SIGINT after this many seconds (an attached `docker run` the reader stops with Ctrl+C). */
  interruptAfterS?: number;
  timeoutS: number;
  skipReason?: string;
  /** The recorded output block that follows, if any: its lines in the file, 0-based, exclusive end. */
  output?: { text: string; start: number; end: number };
  expects: string[];
}

export interface Chapter {
  /** `05`, from `05-tags-and-ports.md`. */
  number: string;
  /** `tags-and-ports`. */
  slug: string;
  file: string;
  title: string;
  blocks: ShellBlock[];
}

const FENCE = /^```(\S*)\s*(.*)$/;

export function parseChapter(file: string, source = readFileSync(file, 'utf8')): Chapter {
  const name = file.split('/').at(-1) ?? file;
  const match = /^(\d\d)-(.+)\.md$/.exec(name);
  if (!match?.[1] || !match[2]) throw new Error(`${name}: chapter files are named NN-slug.md`);
  const lines = source.split('\n');
  const blocks: ShellBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = FENCE.exec(lines[i] ?? '');
    if (!fence || fence[1] === '') continue;
    const end = lines.indexOf('```', i + 1);
    if (end < 0) throw new Error(`${name}:${i + 1}: unclosed code block`);
    const [language, info] = [fence[1], fence[2] ?? ''];
    if (language === 'sh') blocks.push(shellBlock(name, i, info, lines.slice(i + 1, end).join('\n')));
    else if (language === 'text' && info === 'output') {
      const previous = blocks.at(-1);
      if (!previous || previous.output || previous.kind === 'answer')
        throw new Error(`${name}:${i + 1}: an output block must follow a run or skip block`);
      previous.output = { text: lines.slice(i + 1, end).join('\n'), start: i + 1, end };
    }
    i = end;
    for (let j = end + 1; j < lines.length; j++) {
      const expect = /^<!-- expect: (.+) -->$/.exec(lines[j] ?? '');
      if (!expect?.[1]) {
        if ((lines[j] ?? '').trim() === '') continue;
        break;
      }
      const owner = blocks.at(-1);
      if (!owner?.output) throw new Error(`${name}:${j + 1}: expect markers follow an output block`);
      owner.expects.push(expect[1]);
      i = j;
    }
  }
  const title = lines.find((l) => l.startsWith('# '))?.slice(2) ?? match[2];
  return { number: match[1], slug: match[2], file, title, blocks };
}

function shellBlock(name: string, fenceLine: number, info: string, code: string): ShellBlock {
  const [kind = '', ...words] = info.split(/\s+/).filter(Boolean);
  const block: ShellBlock = { kind: 'run', code, line: fenceLine + 1, fails: false, timeoutS: 120, expects: [] };
  if (kind === 'skip') {
    const reason = info.slice('skip'.length).trim();
    if (!reason) throw new Error(`${name}:${fenceLine + 1}: a skip block says why it is skipped`);
    return { ...block, kind: 'skip', skipReason: reason };
  }
  if (kind === 'answer') return { ...block, kind: 'answer' };
  if (kind !== 'run')
    throw new Error(`${name}:${fenceLine + 1}: a sh block is marked run, skip <reason> or answer (found "${info}")`);
  for (const word of words) {
    const [flag, value] = word.split('=');
    if (flag === 'fails') block.fails = true;
    else if (flag === 'interrupt') block.interruptAfterS = Number(value);
    else if (flag === 'timeout') block.timeoutS = Number(value);
    else throw new Error(`${name}:${fenceLine + 1}: unknown run flag "${word}"`);
  }
  return block;
}

export function listChapters(): Chapter[] {
  return readdirSync(CHAPTERS_DIR)
    .filter((f) => /^\d\d-.+\.md$/.test(f))
    .sort()
    .map((f) => parseChapter(`${CHAPTERS_DIR}${f}`));
}

/** `5`, `05`, `tags-and-ports` or `05-tags-and-ports(.md)` all name chapter 05. */
export function findChapter(name: string): Chapter {
  const wanted = name.replace(/\.md$/, '');
  const chapters = listChapters();
  const found = chapters.find(
    (c) => c.number === wanted.padStart(2, '0') || c.slug === wanted || `${c.number}-${c.slug}` === wanted,
  );
  if (!found)
    throw new Error(`no chapter "${name}"; chapters: ${chapters.map((c) => `${c.number}-${c.slug}`).join(', ')}`);
  return found;
}
