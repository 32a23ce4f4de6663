// The attention playground and the two small widgets of the story pages, drawn with plain
// DOM and SVG: all the math comes from attention.js, every number is written by format.js
// as Python would print it. Each widget is an element with a data-attention-widget
// attribute ("playground", "softmax" or "scaling"), mounted on Material's document$ so
// that it also appears after instant navigation.

import { mountPlayground } from "./playground.js";
import { mountScaling, mountSoftmax } from "./story-widgets.js";

const WIDGETS = { playground: mountPlayground, softmax: mountSoftmax, scaling: mountScaling };

document$.subscribe(({ body }) => {
  for (const root of body.querySelectorAll("[data-attention-widget]")) {
    if (root.dataset.mounted) continue;
    root.dataset.mounted = "true";
    WIDGETS[root.dataset.attentionWidget](root);
  }
});
