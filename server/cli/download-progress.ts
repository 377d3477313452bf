import { SingleBar } from 'cli-progress';

/**
 * A model download's progress on the terminal: a bar (or, when the host gives no size, the MiB so
 * far), or plain lines when stderr is no terminal.
 */
export interface DownloadProgress {
  update(receivedBytes: number, totalBytes: number | undefined): void;
  stop(): void;
}

export interface ProgressOutput {
  /** A bar redraws itself in place, which only a terminal shows. */
  isTTY: boolean;
  /** Where the plain lines go. */
  write(text: string): void;
}

/** One line per this share of the file when there is no terminal (`npm start > log`, services). */
const LINE_EVERY_PERCENT = 10;
/** …or per this many bytes when the host does not say how big the file is. */
const LINE_EVERY_BYTES = 10 * 1024 * 1024;

const mib = (bytes: number) => (bytes / 1048576).toFixed(1);

/**
 * Shows a download as it goes. On a terminal, a redrawing bar; elsewhere (a log file, a service
 * manager, a pipe) cli-progress would print nothing at all, so a line every 10 %:
 * `resnet50: 30% (28.2 of 94.0 MiB)`.
 */
export function downloadProgress(
  label: string,
  output: ProgressOutput = {
    isTTY: Boolean(process.stderr.isTTY),
    write: (t) => void process.stderr.write(t)
  }
): DownloadProgress {
  if (output.isTTY) {
    const bar = new SingleBar({
      format: `${label} [{bar}] {percentage}% | {value}/{total} MiB | {eta_formatted} left`,
      hideCursor: true,
      stream: process.stderr
    });
    const tenths = (bytes: number) => Math.round(bytes / 104857.6) / 10;
    let barStarted = false;
    // With no Content-Length there is no total to show a share of (a bar sized by the first chunk
    // would run far past 100 %): the MiB so far, redrawn in place on the same line.
    let countShown: string | undefined;
    return {
      update(received, total) {
        if (total === undefined) {
          const count = mib(received);
          if (count !== countShown) output.write(`\r${label}: ${count} MiB so far`);
          countShown = count;
          return;
        }
        if (!barStarted) bar.start(tenths(total), 0);
        barStarted = true;
        bar.update(tenths(received));
      },
      stop() {
        if (barStarted) bar.stop();
        if (countShown !== undefined) output.write('\n');
        barStarted = false;
        countShown = undefined;
      }
    };
  }
  let lastStep = -1;
  return {
    update(received, total) {
      const step = total
        ? Math.floor((100 * received) / total / LINE_EVERY_PERCENT)
        : Math.floor(received / LINE_EVERY_BYTES);
      if (step <= lastStep) return;
      lastStep = step;
      output.write(
        total
          ? `${label}: ${step * LINE_EVERY_PERCENT}% (${mib(received)} of ${mib(total)} MiB)\n`
          : `${label}: ${mib(received)} MiB\n`
      );
    },
    stop() {}
  };
}
