import { ui } from './ui.js';

export interface TerminalSize {
  columns: number;
  rows: number;
}

/** The terminal's size, updated on every resize (SIGWINCH, as stdout's 'resize' event). */
export function useTerminalSize(): TerminalSize {
  const {
    react: { useEffect, useState },
    ink: { useStdout },
  } = ui();
  const { stdout } = useStdout();
  const [size, setSize] = useState<TerminalSize>(() => measure(stdout));
  useEffect(() => {
    const onResize = () => setSize(measure(stdout));
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout]);
  return size;
}

function measure(stdout: NodeJS.WriteStream): TerminalSize {
  return { columns: stdout.columns || 80, rows: stdout.rows || 24 };
}
