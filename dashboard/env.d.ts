/** Stylesheets imported for esbuild to bundle into dashboard.css. */
declare module '*.css'
