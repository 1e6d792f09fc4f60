// Reverify's custom elements in JSX (their `client` property is set through a ref).
import type { DetailedHTMLProps, HTMLAttributes } from 'react';

type ElementProps = DetailedHTMLProps<HTMLAttributes<HTMLElement>, HTMLElement>;

declare module 'react' {
  namespace JSX {
    interface IntrinsicElements {
      'reverify-sign-in': ElementProps;
      'reverify-sign-up': ElementProps;
      'reverify-account': ElementProps;
    }
  }
}
