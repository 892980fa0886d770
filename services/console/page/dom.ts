// Text only ever goes in as text nodes: paths, ids and error messages come from the network.
type AttributeValue = string | number | boolean | null | undefined;
type Attributes = Record<string, AttributeValue>;
type Child = Node | string | null | undefined | false;

const SVG_NS = 'http://www.w3.org/2000/svg';

function fill<T extends Element>(element: T, attributes: Attributes, children: Child[]): T {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child);
  }
  return element;
}

export function html<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  return fill(document.createElement(tag), attributes, children);
}

export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): SVGElementTagNameMap[K] {
  return fill(document.createElementNS(SVG_NS, tag) as SVGElementTagNameMap[K], attributes, children);
}

/** The element index.html declares with this test id; a missing one is a bug in the page itself. */
export function byTestId<T extends Element>(testId: string, type: abstract new (...args: never[]) => T): T {
  const element = document.querySelector(`[data-testid="${testId}"]`);
  if (!(element instanceof type)) throw new Error(`index.html has no ${type.name} [data-testid="${testId}"]`);
  return element;
}

export function byId<T extends Element>(id: string, type: abstract new (...args: never[]) => T): T {
  const element = document.getElementById(id);
  if (!(element instanceof type)) throw new Error(`index.html has no ${type.name} #${id}`);
  return element;
}
