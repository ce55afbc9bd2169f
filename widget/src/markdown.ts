// Markdown to DOM nodes, never to HTML strings: the model's text cannot inject markup. Handles
// what answers use: paragraphs, bullet and numbered lists, **bold**, *italic*, `code` and
// [links](https://…) (http and https only; others stay text).

const INLINE = /(\*\*([^*]+)\*\*|\*([^*\s][^*]*)\*|`([^`]+)`|\[([^\]]+)\]\((https?:\/\/[^\s)]+)\))/g;

function inline(parent: HTMLElement, text: string): void {
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    const at = m.index ?? 0;
    if (at > last) parent.append(text.slice(last, at));
    let node: HTMLElement;
    if (m[2] !== undefined) {
      node = document.createElement("strong");
      node.textContent = m[2];
    } else if (m[3] !== undefined) {
      node = document.createElement("em");
      node.textContent = m[3];
    } else if (m[4] !== undefined) {
      node = document.createElement("code");
      node.textContent = m[4];
    } else {
      const a = document.createElement("a");
      a.textContent = m[5];
      a.href = m[6];
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      node = a;
    }
    parent.append(node);
    last = at + m[0].length;
  }
  if (last < text.length) parent.append(text.slice(last));
}

export function renderMarkdown(text: string): DocumentFragment {
  const frag = document.createDocumentFragment();
  let list: HTMLElement | null = null;
  let para: string[] = [];
  const flush = () => {
    if (para.length) {
      const p = document.createElement("p");
      inline(p, para.join(" "));
      frag.append(p);
      para = [];
    }
  };
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const bullet = /^[-*•]\s+(.*)$/.exec(line);
    const numbered = /^\d+[.)]\s+(.*)$/.exec(line);
    if (bullet || numbered) {
      flush();
      const tag = bullet ? "ul" : "ol";
      if (!list || list.tagName.toLowerCase() !== tag) {
        list = document.createElement(tag);
        frag.append(list);
      }
      const li = document.createElement("li");
      inline(li, (bullet ?? numbered)![1]);
      list.append(li);
    } else if (line === "") {
      flush();
      list = null;
    } else {
      list = null;
      para.push(line);
    }
  }
  flush();
  return frag;
}
