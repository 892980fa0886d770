/** `H:MM:SS`, hours unpadded, as the Flask original prints it: 7 s is `0:00:07`. */
export function formatUptime(totalSeconds: number): string {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${hours}:${pad(minutes)}:${pad(seconds % 60)}`;
}

export function greeting(uptimeSeconds: number): string {
  return `Hello World (TypeScript)! (up ${formatUptime(uptimeSeconds)})\n`;
}
