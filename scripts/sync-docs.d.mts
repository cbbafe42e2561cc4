/** The marker of an included example, followed by its fenced block. */
export declare const MARKER: RegExp
/** The text of an example file, or of one `// #region` of it, dedented. */
export declare const exampleText: (root: string, file: string, region: string | undefined) => string
/** `text` with every included example block rewritten from its file. */
export declare const syncDoc: (root: string, text: string) => string
